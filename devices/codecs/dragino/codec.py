"""The Dragino codec: each model has its own fixed frame (one module per model), picked by model id."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType

from iot_suitcase.devices.codecs.base import CodecError, DeviceModel, load_models
from iot_suitcase.devices.codecs.dragino import ldds75, lds02
from iot_suitcase.devices.reading import RawReading

Decode = Callable[[int, bytes], list[RawReading]]
Encode = Callable[[int, Mapping[str, float]], bytes]

FRAMES: Mapping[str, tuple[Decode, Encode]] = MappingProxyType(
    {
        ldds75.MODEL: (ldds75.decode, ldds75.encode),
        lds02.MODEL: (lds02.decode, lds02.encode),
    }
)


class DraginoCodec:
    """Dragino end nodes; the battery comes in V, as Dragino's own decoders state it."""

    vendor = "dragino"

    def __init__(self) -> None:
        self.models: Mapping[str, DeviceModel] = load_models("iot_suitcase.devices.codecs.dragino")

    def _frame(self, model: str) -> tuple[Decode, Encode]:
        if model not in self.models or model not in FRAMES:
            raise CodecError(f"dragino: unknown model {model!r}; known: {', '.join(sorted(self.models))}")
        return FRAMES[model]

    def decode(self, model: str, fport: int, payload: bytes) -> list[RawReading]:
        return self._frame(model)[0](fport, payload)

    def encode(self, model: str, fport: int, values: Mapping[str, float]) -> bytes:
        return self._frame(model)[1](fport, values)
