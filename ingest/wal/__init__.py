"""The write-ahead log: its records, redelivery recognition and HTTP idempotency keys."""
