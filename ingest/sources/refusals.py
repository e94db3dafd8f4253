"""HTTP requests the service refused (401, 403, 404, 413, 415, 429): counted, sampled, logged sparingly.

Staff need to see that a sensor posts with a wrong key or to a wrong address; a flood of such requests must
cost neither memory nor disk. So every refusal is counted per status, the newest ``kept`` are kept as
samples, and the service's log gets the first refusal of each (status, device) per ``log_every_s``, at most
``log_lines`` lines per ``log_every_s`` in all (a flood of made-up device ids is one flood, not a line each);
the next line says how many went unlogged.
"""

from __future__ import annotations

import logging
import time
from collections import Counter, OrderedDict, deque
from dataclasses import dataclass

log = logging.getLogger(__name__)

# What to do about each refusal: the one text of each, which the log and /api/refused show and the console
# translates (the Danish catalog has each as a msgid).
WHAT_TO_DO: dict[int, str] = {
    401: "unknown device or wrong API key: check the device id and the key `suitcase devices credentials` issued",
    403: "X-Sensor names another device than the one that authenticated: set the firmware's sensor id",
    404: "no such address: devices post to /v1/devices/<id>/readings (or /v1/sensor-community)",
    413: "the body is over the size limit (SUITCASE_MAX_PAYLOAD_BYTES)",
    415: "unsupported Content-Type: the 415 answer names the Content-Type of each format",
    429: "the device posts faster than its rate limit (SUITCASE_HTTP_RATE_PER_S): slow it down",
}
_TEXT_CHARS = 80


@dataclass(frozen=True, slots=True)
class Refusal:
    at: float  # epoch seconds
    status: int
    device: str  # the device the request names, "-" if none
    path: str
    remote: str

    @property
    def what_to_do(self) -> str:
        return WHAT_TO_DO.get(self.status, "")


class RefusedRequests:
    """Counts per status, the newest samples, and a sparse log (see the module docstring)."""

    def __init__(self, *, kept: int = 50, log_every_s: float = 60.0, log_keys: int = 1000, log_lines: int = 20) -> None:
        self.counts: Counter[int] = Counter()
        self._samples: deque[Refusal] = deque(maxlen=kept)
        self._log_every_s = log_every_s
        self._logged: OrderedDict[tuple[int, str], float] = OrderedDict()
        self._log_keys = log_keys
        self._log_lines = log_lines
        self._window_start = 0.0
        self._window_lines = 0
        self._unlogged = 0

    def refused(self, status: int, device: str | None, path: str, remote: str | None) -> None:
        now = time.time()
        refusal = Refusal(now, status, (device or "-")[:_TEXT_CHARS], path[:_TEXT_CHARS], (remote or "-")[:64])
        self.counts[status] += 1
        self._samples.append(refusal)
        key = (status, refusal.device)
        last = self._logged.get(key)
        if last is not None and now - last < self._log_every_s:
            return
        if now - self._window_start >= self._log_every_s:
            self._window_start, self._window_lines = now, 0
        if self._window_lines >= self._log_lines:
            self._unlogged += 1
            return
        self._window_lines += 1
        self._logged[key] = now
        self._logged.move_to_end(key)
        while len(self._logged) > self._log_keys:
            self._logged.popitem(last=False)
        unlogged, self._unlogged = self._unlogged, 0
        log.warning(
            "refused an HTTP request status=%d device=%s path=%r remote=%s what_to_do=%r "
            "(the first per status and device each %d s; all are counted) unlogged_before=%d",
            status,
            refusal.device,
            refusal.path,
            refusal.remote,
            refusal.what_to_do,
            int(self._log_every_s),
            unlogged,
            extra={"event": "http_refused", "status": status, "device": refusal.device},
        )

    def latest(self) -> list[Refusal]:
        """The kept samples, newest first."""
        return list(reversed(self._samples))
