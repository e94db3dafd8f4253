"""The staff console: accounts, sessions and the pages served on them (the ingest process serves it)."""
