"""Test support for the network-server formats: a tiny codec registered only for the duration of a test.

It lets the codec path (model known -> raw bytes -> codec) be tested without depending on any vendor
codec, and it includes a deliberately broken model to show that a codec bug becomes a reject.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import pytest

from iot_suitcase.devices import codecs
from iot_suitcase.devices.codecs import CodecError, DeviceModel
from iot_suitcase.devices.formats.base import RawReading

COUNTER = "acme/counter"
BROKEN = "acme/broken"


class AcmeCodec:
    """Test-only: 1 or 2 payload bytes are an unsigned big-endian people count, on any fPort."""

    vendor = "acme"
    models: Mapping[str, DeviceModel] = {
        model: DeviceModel(id=model, name=model, kind="counter", quantities=("people_count",), fport=1, interval_s=600)
        for model in (COUNTER, BROKEN)
    }

    def decode(self, model: str, fport: int, payload: bytes) -> list[RawReading]:
        if model == BROKEN:
            raise ZeroDivisionError("acme: a bug in the broken model's codec")
        if not 1 <= len(payload) <= 2:
            raise CodecError(f"acme: a counter uplink has 1 or 2 bytes, got {len(payload)}")
        return [RawReading("people_count", int.from_bytes(payload, "big"), "count")]

    def encode(self, model: str, fport: int, values: Mapping[str, float]) -> bytes:
        return int(values["people_count"]).to_bytes(2, "big")


@contextmanager
def acme_codec() -> Iterator[None]:
    """Register AcmeCodec in devices.codecs (CODECS and MODELS) until the block ends."""
    codec = AcmeCodec()
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(codecs.CODECS, codec.vendor, codec)
        for model_id, model in codec.models.items():
            patch.setitem(codecs.MODELS, model_id, model)
        yield
