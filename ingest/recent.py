"""The decoded form of records the intake logged moments ago, so the drainer need not parse them again.

Looked up by the record's exact bytes: a record read back from the log that is found here decodes to
exactly the ``Record`` kept (``decode_record`` is a function of the bytes alone), and one that is not
(after a restart, or past the bound) is decoded from the log as before. The log stays the only truth.
"""

from __future__ import annotations

from ingest.records import Record, decode_record


class RecentRecords:
    """Decoded records by their bytes, at most ``limit`` of them; each is handed out once."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._records: dict[bytes, Record] = {}

    def __len__(self) -> int:
        return len(self._records)

    def add(self, body: bytes, record: Record) -> None:
        if len(self._records) < self._limit:
            self._records[body] = record

    def forget(self, body: bytes) -> None:
        """A record that will never be logged (its HTTP client gave up)."""
        self._records.pop(body, None)

    def take(self, body: bytes) -> Record:
        """The record for ``body`` as the log holds it: kept if it is here, else decoded."""
        found = self._records.pop(body, None)
        return found if found is not None else decode_record(body)
