"""What a LoRaWAN codec is: the models of one vendor, and their payload bytes <-> raw readings.

Each vendor is one folder under devices/codecs/: its README (the vendor document it implements),
``models.toml`` (the catalog entry of each model), the codec, ``testdata/`` with the vendor's published
examples, and its tests. Registering it is one line in devices/codecs/__init__.py.

A codec returns values in the units the vendor states (an Elsys ``vdd`` in mV); the shared decode
pipeline converts them to the catalog's canonical units and checks their ranges.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib.resources import files
from typing import Protocol

from iot_suitcase.devices.errors import DecodeError, RejectCode
from iot_suitcase.devices.reading import RawReading


class CodecError(DecodeError):
    """Bytes a codec cannot decode (truncated buffer, unknown channel, ...): a reject, never a crash."""

    def __init__(self, reason: str) -> None:
        super().__init__(RejectCode.CODEC_ERROR, reason)


class CodecReadings(list[RawReading]):
    """A codec's readings, and how many fields of the uplink it read past because it does not know them
    (a format whose fields carry their own size can step over a new one): counted by the service, not stored."""

    def __init__(self, readings: Iterable[RawReading] = (), *, skipped: int = 0) -> None:
        super().__init__(readings)
        self.skipped = skipped


@dataclass(frozen=True, slots=True)
class DeviceModel:
    """One sensor model, named ``vendor/model`` as in The Things Network device repository."""

    id: str
    name: str
    kind: str
    quantities: tuple[str, ...]
    fport: int
    interval_s: int

    @property
    def vendor(self) -> str:
        return self.id.split("/", 1)[0]


class Codec(Protocol):
    """The payload codec of one vendor's models."""

    vendor: str
    models: Mapping[str, DeviceModel]

    def decode(self, model: str, fport: int, payload: bytes) -> list[RawReading]:
        """Decode an uplink of ``model`` on ``fport``; raise ``CodecError`` for anything malformed."""
        ...

    def encode(self, model: str, fport: int, values: Mapping[str, float]) -> bytes:
        """The inverse of ``decode`` (for simulators): quantity -> value in the units decode returns."""
        ...


def load_models(package: str) -> dict[str, DeviceModel]:
    """Read ``models.toml`` of a codec package: ``[models."vendor/model"]`` tables, validated."""
    data = tomllib.loads(files(package).joinpath("models.toml").read_text(encoding="utf-8"))
    models = {}
    for model_id, spec in data["models"].items():
        if model_id.count("/") != 1:
            raise ValueError(f"{package}: model id {model_id!r} must be vendor/model")
        models[model_id] = DeviceModel(
            id=model_id,
            name=str(spec["name"]),
            kind=str(spec["kind"]),
            quantities=tuple(spec["quantities"]),
            fport=int(spec["fport"]),
            interval_s=int(spec["interval_s"]),
        )
    return models
