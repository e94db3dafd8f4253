"""Decoder of single-value topics: ``<root>/<device>/<quantity>[/<unit>]`` with a bare number as payload.

The topic says everything but the number, so the format only claims topics whose third level is a
catalog quantity: ``<root>/<device>/up`` (native) and the other formats' levels never clash with it.
"""

from __future__ import annotations

import re
from collections.abc import Collection

from iot_suitcase.devices.catalog import load_catalog
from iot_suitcase.devices.errors import DecodeError, RejectCode
from iot_suitcase.devices.formats.base import Decoded, FormatContext, Message, RawReading
from iot_suitcase.devices.reading import check_device_id

# A decimal number as devices print it: optional sign, digits with an optional fraction, exponent.
NUMBER = re.compile(r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?")
_NOT_FINITE = re.compile(r"[-+]?(?:nan|inf|infinity)", re.IGNORECASE)
_NUMBER_BYTES = re.compile(NUMBER.pattern.encode())
_SNIFF_LIMIT = 64
_QUANTITY_LEVEL, _UNIT_LEVEL = 3, 4


class SingleValueFormat:
    """One number per message, its device, quantity and (optionally) unit in the topic."""

    name = "single_value"
    summary = "a bare number on <root>/<device>/<quantity>[/<unit>]"
    content_types: tuple[str, ...] = ()

    def topic_filters(self, context: FormatContext) -> list[str]:
        # One filter per quantity rather than <root>/+/+: overlapping subscriptions would let the broker
        # deliver a native message twice.
        root = context.topic_root
        return [topic for quantity in _quantities() for topic in (f"{root}/+/{quantity}", f"{root}/+/{quantity}/+")]

    def matches_topic(self, topic: str, context: FormatContext) -> bool:
        levels = topic.split("/")
        return (
            len(levels) in (_QUANTITY_LEVEL, _UNIT_LEVEL)
            and levels[0] == context.topic_root
            and levels[2] in _quantities()
            and all(levels[1:])
        )

    def sniff(self, payload: bytes) -> bool:
        return len(payload) <= _SNIFF_LIMIT and _NUMBER_BYTES.fullmatch(payload.strip()) is not None

    def decode(self, message: Message, context: FormatContext) -> Decoded:
        if message.topic is None:
            raise DecodeError(
                RejectCode.MISSING_DEVICE,
                "a bare number names no device or quantity: publish it on <root>/<device>/<quantity>",
            )
        levels = message.topic.split("/")
        if len(levels) not in (_QUANTITY_LEVEL, _UNIT_LEVEL) or levels[0] != context.topic_root:
            raise DecodeError(
                RejectCode.UNKNOWN_TOPIC,
                f"topic {message.topic[:120]!r} is not {context.topic_root}/<device>/<quantity>[/<unit>]",
            )
        device_id = check_device_id(levels[1])
        unit = levels[3] if len(levels) == _UNIT_LEVEL else None
        try:
            value = parse_number(message.payload)
        except DecodeError as error:
            error.device_id = device_id
            raise
        return Decoded(device_id=device_id, readings=[RawReading(levels[2], value, unit)])


def parse_number(payload: bytes) -> float:
    """The payload as a finite number, or a reject that shows what arrived instead."""
    try:
        text = payload.decode("utf-8").strip()
    except UnicodeDecodeError as error:
        raise DecodeError(RejectCode.NOT_UTF8, f"payload is not UTF-8: {error.reason} at byte {error.start}") from None
    if _NOT_FINITE.fullmatch(text):
        raise DecodeError(RejectCode.NOT_FINITE, f"payload {text!r} is not a finite number")
    if not NUMBER.fullmatch(text):
        raise DecodeError(RejectCode.WRONG_TYPE, f"payload {text[:40]!r} is not a bare number such as 21.5")
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise DecodeError(RejectCode.NOT_FINITE, f"payload {text[:40]!r} is too large for a number")
    return value


def _quantities() -> Collection[str]:
    return load_catalog().quantities.keys()
