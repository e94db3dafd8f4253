"""Several municipalities on one installation (see README.md here)."""
