"""Taking in the messages a device sent before it was registered (#15 point 6: the first reading is never lost).

Such messages are kept as ``unknown_device`` rejects with their raw payload and receive time. Staff ask for
them once the device is registered (`suitcase rejects replay ID`, or the console); the request waits in the
rejects store, which the CLI can write while the service runs. This task takes each asked-for device's
messages through the intake as if they arrived when they did, waits until the log has them, then forgets the
rejects. A crash between the two takes them in again at the next start: the same points at the same times,
which InfluxDB stores once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from iot_suitcase.ingest.intake.intake import Intake
from iot_suitcase.ingest.sink.rejects import RejectStore

log = logging.getLogger(__name__)


class TakeIn:
    def __init__(
        self,
        intake: Intake,
        rejects: RejectStore,
        registered: Callable[[str], bool],
        *,
        batch: int = 500,
        every_s: float = 1.0,
    ) -> None:
        self._intake = intake
        self._rejects = rejects
        self._registered = registered
        self._batch = batch
        self._every_s = every_s

    async def run(self) -> None:
        while True:
            for device in await asyncio.to_thread(self._rejects.take_in_requests):
                await self.take_in(device)
            await asyncio.sleep(self._every_s)

    async def take_in(self, device: str) -> int:
        """Take in ``device``'s waiting messages, oldest first; how many were taken in."""
        if not self._registered(device):
            log.warning("not taking in messages of a device that is not registered device=%s", device)
            await asyncio.to_thread(self._rejects.answered, device)
            return 0
        taken = refused = last = 0
        while waiting := await asyncio.to_thread(self._rejects.oldest_waiting, device, self._batch, last):
            last = waiting[-1].id  # a message refused again is kept again, after these: not taken in a loop
            entries = [self._intake.take_in(kept.topic, kept.payload, kept.received_at) for kept in waiting]
            await asyncio.gather(*(entry.committed for entry in entries if entry.committed is not None))
            await asyncio.to_thread(self._rejects.taken_in, [kept.id for kept in waiting])
            taken += len(waiting)
            refused += sum(entry.reject is not None for entry in entries)  # kept again, with their new reason
        await asyncio.to_thread(self._rejects.answered, device)
        log.info("took in waiting messages device=%s messages=%d rejected_again=%d", device, taken, refused)
        return taken
