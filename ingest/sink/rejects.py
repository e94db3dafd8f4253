"""The durable rejects store: every message that was not stored, with its reason and raw payload.

SQLite, because staff and operators can open it with standard tools, it survives restarts, and a
bounded table with indexes lists rejects by device and reason cheaply. Counts per reason are kept
apart from the bounded table, so they keep counting after old rejects are pruned.
"""

from __future__ import annotations

import builtins
import hashlib
import logging
import sqlite3
import threading
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from iot_suitcase.devices.errors import RejectCode
from iot_suitcase.ingest.wal.records import Reject

_SCHEMA = """
CREATE TABLE IF NOT EXISTS rejects (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    received_at TEXT NOT NULL,
    topic TEXT NOT NULL,
    device TEXT,
    code TEXT NOT NULL,
    reason TEXT NOT NULL,
    payload BLOB NOT NULL,
    message_key BLOB NOT NULL,
    UNIQUE (message_key, received_at)
);
CREATE INDEX IF NOT EXISTS rejects_by_device ON rejects (device, id);
CREATE INDEX IF NOT EXISTS rejects_by_code ON rejects (code, id);
CREATE TABLE IF NOT EXISTS reject_counts (code TEXT PRIMARY KEY, count INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS take_in_requests (device TEXT PRIMARY KEY, requested_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS idempotency (
    key BLOB PRIMARY KEY,
    at REAL NOT NULL,
    status INTEGER NOT NULL,
    body TEXT NOT NULL
);
"""


@dataclass(frozen=True, slots=True)
class StoredReject:
    id: int
    received_at: datetime
    topic: str
    device_id: str | None
    code: str
    reason: str
    payload: bytes


class RejectStore:
    """Bounded to ``max_rows`` rejects (the oldest go first); one connection, used from one thread at a time."""

    def __init__(self, path: Path, *, max_rows: int = 100_000) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._max_rows = max_rows
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()  # the connection is shared by worker threads, one at a time

    def add(self, rejects: Iterable[tuple[bytes, Reject]]) -> int:
        """Store (message key, reject) pairs; a pair stored before (a replay of the log) is ignored."""
        rejects = list(rejects)
        if not rejects:  # the common case: no SQLite transaction at all (the profile found it on every ack)
            return 0
        added = 0
        with self._lock, self._transaction():
            for key, r in rejects:
                cursor = self._db.execute(
                    "INSERT OR IGNORE INTO rejects (received_at, topic, device, code, reason, payload, message_key) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (r.received_at.isoformat(), r.topic, r.device_id, r.code, r.reason, r.payload, key),
                )
                if cursor.rowcount:
                    added += 1
                    self._db.execute(
                        "INSERT INTO reject_counts (code, count) VALUES (?, 1) "
                        "ON CONFLICT (code) DO UPDATE SET count = count + 1",
                        (r.code,),
                    )
            if added:
                self._db.execute("DELETE FROM rejects WHERE id <= (SELECT MAX(id) FROM rejects) - ?", (self._max_rows,))
        return added

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)

    def list(self, *, device: str | None = None, code: str | None = None, limit: int = 100) -> list[StoredReject]:
        """The newest rejects first, optionally of one device and/or one reason code."""
        query = "SELECT id, received_at, topic, device, code, reason, payload FROM rejects WHERE 1 = 1"
        params: list[object] = []
        if device is not None:
            query += " AND device = ?"
            params.append(device)
        if code is not None:
            query += " AND code = ?"
            params.append(code)
        query += " ORDER BY id DESC LIMIT ?"
        params.append(limit)
        with self._lock:
            rows = self._db.execute(query, params).fetchall()
        return [
            StoredReject(row[0], datetime.fromisoformat(row[1]), row[2], row[3], row[4], row[5], bytes(row[6]))
            for row in rows
        ]

    def latest_per_device(self, devices: Iterable[str]) -> dict[str, Reject]:
        """Each of ``devices``' newest reject that is not ``unknown_device`` (what the status page shows
        as why its data does not arrive), from the store, so it is shown again after a restart."""
        wanted = set(devices)
        found: dict[str, Reject] = {}
        with self._lock:
            rows = self._db.execute(
                "SELECT device, received_at, topic, code, reason, payload FROM rejects WHERE id IN "
                "(SELECT MAX(id) FROM rejects WHERE device IS NOT NULL AND code != ? GROUP BY device)",
                (RejectCode.UNKNOWN_DEVICE,),
            ).fetchall()
        for device, at, topic, code, reason, payload in rows:
            if device in wanted:
                found[device] = Reject(topic, bytes(payload), datetime.fromisoformat(at), device, code, reason)
        return found

    # --- messages of devices that were not registered yet, waiting to be taken in (#15 point 6) ----------
    def waiting(self) -> dict[str, int]:
        """Per device id, its messages kept as ``unknown_device`` rejects: what registering it can take in."""
        with self._lock:
            rows = self._db.execute(
                "SELECT device, count(*) FROM rejects WHERE code = ? AND device IS NOT NULL GROUP BY device",
                (RejectCode.UNKNOWN_DEVICE,),
            ).fetchall()
        return dict(rows)

    def oldest_waiting(self, device: str, limit: int, after_id: int = 0) -> builtins.list[StoredReject]:
        with self._lock:
            rows = self._db.execute(
                "SELECT id, received_at, topic, device, code, reason, payload FROM rejects "
                "WHERE device = ? AND code = ? AND id > ? ORDER BY id LIMIT ?",
                (device, RejectCode.UNKNOWN_DEVICE, after_id, limit),
            ).fetchall()
        return [
            StoredReject(row[0], datetime.fromisoformat(row[1]), row[2], row[3], row[4], row[5], bytes(row[6]))
            for row in rows
        ]

    def taken_in(self, ids: Iterable[int]) -> None:
        """Forget rejects whose messages are in the log now (their reason counts stay: they happened)."""
        with self._lock, self._transaction():
            self._db.executemany("DELETE FROM rejects WHERE id = ?", [(i,) for i in ids])

    def ask_to_take_in(self, device: str, at: float) -> None:
        """Ask the service (this store's) to take in ``device``'s waiting messages; the CLI and console do."""
        with self._lock:
            self._db.execute(
                "INSERT INTO take_in_requests (device, requested_at) VALUES (?, ?) ON CONFLICT (device) DO NOTHING",
                (device, at),
            )

    def take_in_requests(self) -> builtins.list[str]:
        with self._lock:
            return [row[0] for row in self._db.execute("SELECT device FROM take_in_requests ORDER BY requested_at")]

    def answered(self, device: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM take_in_requests WHERE device = ?", (device,))

    def counts(self) -> dict[str, int]:
        """Rejects per reason code since the store was created (not bounded by pruning)."""
        with self._lock:
            return dict(self._db.execute("SELECT code, count FROM reject_counts ORDER BY code").fetchall())

    def remember_answers(self, answers: Iterable[tuple[bytes, float, int, str]], keep_s: float) -> None:
        """HTTP answers by Idempotency-Key (key, time, status, JSON body); those older than ``keep_s`` go."""
        answers = list(answers)
        if not answers:
            return
        with self._lock, self._transaction():
            self._db.executemany(
                "INSERT OR IGNORE INTO idempotency (key, at, status, body) VALUES (?, ?, ?, ?)", answers
            )
            self._db.execute("DELETE FROM idempotency WHERE at < ?", (max(a[1] for a in answers) - keep_s,))

    def answers_since(self, since: float) -> builtins.list[tuple[bytes, float, int, str]]:
        with self._lock:
            rows = self._db.execute("SELECT key, at, status, body FROM idempotency WHERE at >= ?", (since,)).fetchall()
        return [(bytes(key), at, status, body) for key, at, status, body in rows]

    def close(self) -> None:
        self._db.close()


class _Transaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: type[BaseException] | None, *_rest: object) -> None:
        self._db.execute("COMMIT" if kind is None else "ROLLBACK")


REJECT_PREFIX_BYTES = 1024
_log = logging.getLogger(__name__)


def bounded(reject: Reject) -> Reject:
    """An oversized payload's reject keeps its first KiB, its size and its hash: enough to recognise it,
    never megabytes per message in the log and the rejects store."""
    payload = reject.payload
    digest = hashlib.sha256(payload).hexdigest()
    note = f" (kept: the first {REJECT_PREFIX_BYTES} of {len(payload)} bytes; sha256 {digest})"
    return replace(reject, payload=payload[:REJECT_PREFIX_BYTES], reason=reject.reason + note)


def log_reject(reject: Reject) -> None:
    """Every reject in the service's log with its device and reason; as separate fields in JSON logs."""
    _log.warning(
        "rejected message code=%s device=%s topic=%r reason=%r payload=%r",
        reject.code,
        reject.device_id or "-",
        reject.topic,
        reject.reason,
        reject.payload[:200],
        extra={
            "event": "reject",
            "code": str(reject.code),
            "device": reject.device_id,
            "topic": reject.topic,
            "reason": reject.reason,
        },
    )
