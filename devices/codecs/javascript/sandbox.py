"""A vendor's JavaScript decoder run in an embedded V8 (mini-racer), with a time and a memory limit per call.

The decoder is The Things Network Device Repository's format: ``decodeUplink(input)`` with ``input.bytes`` (an
array of byte values) and ``input.fPort``, returning ``{data, warnings, errors}``. V8 alone offers no file,
network or process access (no ``require``, ``fetch`` or ``process``): a decoder sees its input and nothing else.
A decoder that throws, loops past the time limit, allocates past the memory limit or returns something else
raises ``CodecError``, and its isolate is thrown away, so the next call starts clean.

Every call runs on one thread of its own, in an event loop there that lives as long as the process: mini-racer
cancels a call past its time limit through asyncio, and the ingest service's own loop must not wait on it.
The caller waits for the result, at most the time limit.
"""

from __future__ import annotations

import asyncio
import json
import math
import threading
import time
from collections import deque
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from py_mini_racer import JSEvalException, JSOOMException, MiniRacer

from iot_suitcase.devices.codecs.base import CodecError

TIME_LIMIT_MS = 100  # per call: a decoder turns a few dozen bytes into numbers; this is a hundred times that
MEMORY_LIMIT_BYTES = 32 << 20  # per decoder's isolate
_SOURCE_LIMIT_BYTES = 1 << 20
_OUTPUT_LIMIT_CHARS = 1 << 20  # a decoder's answer: a few fields, never megabytes
# A decoder that overruns its limits this often within the window is suspended for the window: each overrun
# holds the ingest service up for the time limit, and a flood of such uplinks must not add up to a stall.
OVERRUNS_TO_SUSPEND = 3
SUSPENSION_S = 60.0
T = TypeVar("T")


class _DecoderThread:
    """The decoders' own thread and event loop, started on first use."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()

    def run(self, call: Coroutine[object, object, T]) -> T:
        """Run ``call`` there and wait for its result."""
        with self._lock:
            if self._loop is None:
                self._loop = asyncio.new_event_loop()
                threading.Thread(target=self._loop.run_forever, name="javascript-decoders", daemon=True).start()
        return asyncio.run_coroutine_threadsafe(call, self._loop).result()


_run = _DecoderThread().run


@dataclass(frozen=True, slots=True)
class DecoderOutput:
    """What ``decodeUplink`` returned."""

    data: dict[str, Any]
    warnings: list[str]


class JavaScriptDecoder:
    """One decoder script, kept loaded in its own V8 isolate between calls."""

    def __init__(
        self,
        source: str,
        name: str,
        *,
        time_limit_ms: int = TIME_LIMIT_MS,
        memory_limit_bytes: int = MEMORY_LIMIT_BYTES,
        suspension_s: float = SUSPENSION_S,
    ) -> None:
        if len(source.encode()) > _SOURCE_LIMIT_BYTES:
            raise ValueError(f"{name}: the decoder is over {_SOURCE_LIMIT_BYTES >> 20} MiB")
        self.name = name
        self._source = source
        self._time_limit_ms = time_limit_ms
        self._memory_limit_bytes = memory_limit_bytes
        self._suspension_s = suspension_s
        self._overruns: deque[float] = deque(maxlen=OVERRUNS_TO_SUSPEND)  # when the last ones happened
        self._isolate: MiniRacer | None = None
        _run(self._load())  # a script that does not even load is refused when it is registered, not per uplink

    async def _load(self) -> MiniRacer:
        isolate = MiniRacer()
        isolate.set_hard_memory_limit(self._memory_limit_bytes)
        try:
            await self._eval(isolate, self._source, self._time_limit_ms * 10)
            if await self._eval(isolate, "typeof decodeUplink", self._time_limit_ms) != "function":
                raise CodecError(f"{self.name}: the script defines no function decodeUplink(input)")
        except (JSEvalException, JSOOMException, TimeoutError) as error:
            raise CodecError(f"{self.name}: the script does not load: {_said(error)}") from None
        self._isolate = isolate
        return isolate

    @staticmethod
    async def _eval(isolate: MiniRacer, code: str, limit_ms: int) -> object:
        return await asyncio.wait_for(isolate.eval_cancelable(code), timeout=limit_ms / 1000)

    def decode_uplink(self, fport: int, payload: bytes) -> DecoderOutput:
        now = time.monotonic()
        if len(self._overruns) == OVERRUNS_TO_SUSPEND and now - self._overruns[0] < self._suspension_s:
            wait = self._overruns[0] + self._suspension_s - now
            raise CodecError(
                f"{self.name}: decodeUplink is suspended for {wait:.0f} s more: it overran its limits "
                f"{OVERRUNS_TO_SUSPEND} times within {self._suspension_s:.0f} s (fix the script)"
            )
        try:
            return _run(self._decode(fport, payload))
        except _Overrun as overrun:
            self._overruns.append(time.monotonic())
            raise CodecError(str(overrun)) from None

    async def _decode(self, fport: int, payload: bytes) -> DecoderOutput:
        isolate = self._isolate or await self._load()
        call = f"JSON.stringify(decodeUplink({json.dumps({'bytes': list(payload), 'fPort': fport})}))"
        try:
            text = await self._eval(isolate, call, self._time_limit_ms)
        except TimeoutError:
            self._isolate = None
            raise _Overrun(f"{self.name}: decodeUplink ran past its time limit of {self._time_limit_ms} ms") from None
        except JSOOMException:
            self._isolate = None
            limit = self._memory_limit_bytes >> 20
            raise _Overrun(f"{self.name}: decodeUplink went past its memory limit of {limit} MiB") from None
        except JSEvalException as error:
            self._isolate = None
            raise CodecError(f"{self.name}: decodeUplink failed: {_said(error)}") from None
        return _output(self.name, text)


class _Overrun(Exception):
    """A call stopped at its time or memory limit (what counts towards a suspension)."""


def _said(error: Exception) -> str:
    """The first line of what V8 said (its message, without the stack)."""
    lines = str(error).strip().splitlines()
    return (lines[0] if lines else type(error).__name__)[:200]


def _output(name: str, text: object) -> DecoderOutput:
    if not isinstance(text, str):
        raise CodecError(f"{name}: decodeUplink returned nothing JSON can carry")
    if len(text) > _OUTPUT_LIMIT_CHARS:
        raise CodecError(f"{name}: decodeUplink returned {len(text)} characters of JSON, over the limit of 1 Mi")
    try:
        result = json.loads(text, parse_constant=_no_constant)
    except ValueError as error:
        raise CodecError(f"{name}: decodeUplink returned unreadable JSON: {error}") from None
    if not isinstance(result, dict):
        raise CodecError(f"{name}: decodeUplink returned {type(result).__name__}, not {{data, warnings, errors}}")
    errors = result.get("errors") or []
    if errors:
        listed = "; ".join(str(e)[:100] for e in errors[:3]) if isinstance(errors, list) else str(errors)[:100]
        raise CodecError(f"{name}: the decoder reports errors: {listed}")
    data = result.get("data")
    if not isinstance(data, dict):
        raise CodecError(f"{name}: decodeUplink returned no data object")
    warnings = result.get("warnings") or []
    return DecoderOutput(data, [str(w)[:200] for w in warnings] if isinstance(warnings, list) else [str(warnings)])


def _no_constant(name: str) -> float:
    # JSON.stringify writes NaN and Infinity as null; a bare constant is not JSON a decoder could return
    raise ValueError(f"{name} is not a number")


def number_at(data: Mapping[str, Any], path: str) -> float | None:
    """The number at a dotted path of the decoder's data (``battery.voltage``); a boolean is 1 or 0; None when
    there is none (a field a decoder leaves out when a sensor is absent)."""
    found: Any = data
    for part in path.split("."):
        if not isinstance(found, Mapping) or part not in found:
            return None
        found = found[part]
    if isinstance(found, bool):
        return 1.0 if found else 0.0
    if isinstance(found, int | float) and math.isfinite(found):
        return float(found)
    return None
