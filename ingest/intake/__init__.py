"""What the service knows about devices when it decodes and validates a message."""
