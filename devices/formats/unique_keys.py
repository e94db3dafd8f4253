"""JSON objects whose keys repeat are rejected: parsers keep the last value and silently drop the others.

RFC 8259 leaves repeated names to the implementation; taken last-wins, ``{"co2": 400, "co2": 9000}`` would be
stored as 9000 with nobody told. The check is cheap in the common case: every key in the text is a string
followed by its own ``:``, so when the text has no more ``:`` (counted first, the cheapest) or ``"...:`` than
the parsed objects have keys, none repeats; only otherwise (a repeat, or a string value that happens to
contain ``":``) is the text parsed again with a hook that finds the repeated key.
"""

from __future__ import annotations

import json
import re
from typing import Final

from iot_suitcase.devices.errors import DecodeError, RejectCode

_KEY_END: Final = re.compile(rb'"\s*:')


class _Repeated(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _unique(pairs: list[tuple[str, object]]) -> dict[str, object]:
    found: dict[str, object] = {}
    for key, value in pairs:
        if key in found:
            raise _Repeated(key)
        found[key] = value
    return found


def count_keys(value: object) -> int:
    """Keys of every object in a parsed JSON value."""
    if isinstance(value, dict):
        return len(value) + sum(count_keys(item) for item in value.values())
    if isinstance(value, list):
        return sum(count_keys(item) for item in value)
    return 0


def check_unique_keys(payload: bytes, keys_parsed: int) -> None:
    """Raise ``malformed_json`` naming the key if an object of ``payload`` repeats one; ``keys_parsed``: the
    keys the parser kept (``count_keys`` of its result)."""
    if payload.count(b":") <= keys_parsed or len(_KEY_END.findall(payload)) <= keys_parsed:
        return
    try:
        json.loads(payload, object_pairs_hook=_unique)
    except _Repeated as repeated:
        raise DecodeError(
            RejectCode.MALFORMED_JSON,
            f"payload repeats the key {repeated.key[:64]!r}: every key of a JSON object must be unique "
            "(a repeat would silently overwrite a value)",
        ) from None
    except (ValueError, RecursionError):
        return  # the first parser accepted it; any other complaint here is not ours to make
