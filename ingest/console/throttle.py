"""Login throttling: after too many failed logins for one account name or from one address, that name or
address waits until the oldest failure leaves the window. Bounded in memory, whatever an attacker sends."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable


class LoginThrottle:
    def __init__(
        self,
        *,
        per_name: int = 5,
        per_address: int = 20,
        window_s: float = 15 * 60,
        max_keys: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._limits = {"name": per_name, "address": per_address}
        self._window_s = window_s
        self._max_keys = max_keys
        self._clock = clock
        self._failures: dict[tuple[str, str], deque[float]] = {}

    def _recent(self, key: tuple[str, str]) -> deque[float]:
        failures = self._failures.get(key, deque())
        while failures and failures[0] <= self._clock() - self._window_s:
            failures.popleft()
        return failures

    def wait_s(self, name: str, address: str) -> float:
        """Seconds until this name may try again from this address; 0 when it may now."""
        waits = [0.0]
        for key in (("name", name.lower()), ("address", address)):
            failures = self._recent(key)
            if len(failures) >= self._limits[key[0]]:
                waits.append(failures[0] + self._window_s - self._clock())
        return max(waits)

    def failed(self, name: str, address: str) -> None:
        if len(self._failures) >= self._max_keys:  # forget names and addresses whose failures all expired
            self._failures = {key: kept for key in self._failures if (kept := self._recent(key))}
        for key in (("name", name.lower()), ("address", address)):
            if key in self._failures or len(self._failures) < self._max_keys:
                self._failures.setdefault(key, deque(maxlen=self._limits[key[0]])).append(self._clock())

    def succeeded(self, name: str) -> None:
        """A right password clears the name's failures (the address keeps its own)."""
        self._failures.pop(("name", name.lower()), None)
