"""What the status board knew of each registered device, kept on disk so a restart does not forget it.

Last seen, message count, format and the latest value of each quantity, per registered device (the
registry bounds them), saved every few seconds for the devices that changed and once more at shutdown, in
``<data dir>/devices.sqlite3``. A kill -9 loses at most the last few seconds of it; the readings themselves
are in InfluxDB either way.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

log = logging.getLogger(__name__)

SAVE_EVERY_S = 5.0
_SCHEMA = """
CREATE TABLE IF NOT EXISTS devices (
    device TEXT PRIMARY KEY,
    last_seen TEXT NOT NULL,
    format TEXT NOT NULL,
    messages INTEGER NOT NULL,
    latest TEXT NOT NULL
);
"""


@dataclass(frozen=True, slots=True)
class DeviceState:
    device: str
    last_seen: datetime
    format: str
    messages: int
    latest: dict[str, tuple[float, str, datetime]]  # quantity -> (value, unit, time)


class RememberedDevices:
    """The file of device states. One that cannot be read is set aside (logged), never a reason not to start:
    it only holds what the status page showed."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = _open(path)
        except sqlite3.DatabaseError as error:
            aside = path.with_name(f"{path.name}.unreadable-{int(time.time())}")
            path.rename(aside)
            log.error(
                "device states unreadable, set aside; the status page starts empty error=%s moved_to=%s", error, aside
            )
            self._db = _open(path)
        self._lock = threading.Lock()

    def save(self, states: Iterable[DeviceState]) -> None:
        rows = [
            (
                state.device,
                state.last_seen.isoformat(),
                state.format,
                state.messages,
                json.dumps({q: [v, unit, at.isoformat()] for q, (v, unit, at) in state.latest.items()}),
            )
            for state in states
        ]
        if not rows:
            return
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany(
                    "INSERT INTO devices (device, last_seen, format, messages, latest) VALUES (?, ?, ?, ?, ?) "
                    "ON CONFLICT (device) DO UPDATE SET last_seen = excluded.last_seen, format = excluded.format, "
                    "messages = excluded.messages, latest = excluded.latest",
                    rows,
                )
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def load(self) -> list[DeviceState]:
        with self._lock:
            rows = self._db.execute("SELECT device, last_seen, format, messages, latest FROM devices").fetchall()
        return [
            DeviceState(
                device,
                datetime.fromisoformat(last_seen),
                fmt,
                messages,
                _latest(latest),
            )
            for device, last_seen, fmt, messages, latest in rows
        ]

    async def run(self, changed: Callable[[], list[DeviceState]]) -> None:
        """Save what changed every few seconds; a failing disk costs this memory, never the service."""
        loop = asyncio.get_running_loop()
        failing = False
        while True:
            await asyncio.sleep(SAVE_EVERY_S)
            states = changed()
            try:
                await loop.run_in_executor(None, self.save, states)
            except (OSError, sqlite3.Error) as error:
                if not failing:
                    log.warning("device states not saved (shown again after a restart once they are) error=%s", error)
                failing = True
                continue
            failing = False

    def close(self) -> None:
        self._db.close()


def _open(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.executescript(_SCHEMA)
        db.execute("SELECT COUNT(*) FROM devices").fetchone()
    except sqlite3.DatabaseError:
        db.close()
        raise
    return db


def _latest(text: str) -> dict[str, tuple[float, str, datetime]]:
    return {q: (float(v), str(unit), datetime.fromisoformat(at)) for q, (v, unit, at) in json.loads(text).items()}
