"""What staff and operators see: status board, /metrics, the status pages, logs."""
