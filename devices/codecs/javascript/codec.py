"""Models whose uplinks a vendor's JavaScript decoder decodes, registered by staff in a TOML file.

A model there names its decoder script (a path relative to the file) and a field map from the decoder's
output (dotted paths) to catalog quantities; an output field the map does not name is read past and counted.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from iot_suitcase.devices.catalog import Catalog, load_catalog
from iot_suitcase.devices.codecs.base import CodecError, CodecReadings, DeviceModel
from iot_suitcase.devices.codecs.javascript.sandbox import JavaScriptDecoder, number_at
from iot_suitcase.devices.reading import RawReading

_APPLICATION_PORTS = range(1, 224)


class DecodersFileError(ValueError):
    """A JavaScript decoders file that cannot be used, saying what is wrong in it."""


@dataclass(frozen=True, slots=True)
class FieldMap:
    """One output field of a decoder: the catalog quantity it is, in which unit (None: the canonical one)."""

    path: str
    quantity: str
    unit: str | None = None


@dataclass(frozen=True, slots=True)
class ScriptModel:
    model: DeviceModel
    decoder: JavaScriptDecoder
    fields: tuple[FieldMap, ...]


class JavaScriptCodec:
    """The registered JavaScript models of one vendor."""

    def __init__(self, vendor: str, models: Mapping[str, ScriptModel]) -> None:
        self.vendor = vendor
        self._scripts = dict(models)
        self.models: Mapping[str, DeviceModel] = {model_id: s.model for model_id, s in models.items()}

    def decode(self, model: str, fport: int, payload: bytes) -> CodecReadings:
        script = self._scripts.get(model)
        if script is None:
            raise CodecError(f"{self.vendor}: no decoder is registered for {model!r}")
        if fport not in _APPLICATION_PORTS:
            raise CodecError(f"{model}: fport {fport} is not an application port (1-223)")
        data = script.decoder.decode_uplink(fport, payload).data
        readings = []
        for field in script.fields:
            value = number_at(data, field.path)
            if value is not None:
                readings.append(RawReading(field.quantity, value, field.unit))
        mapped = {field.path for field in script.fields}
        skipped = sum(1 for path in leaves(data) if path not in mapped)
        return CodecReadings(readings, skipped=skipped)

    def encode(self, model: str, fport: int, values: Mapping[str, float]) -> bytes:
        raise CodecError(f"{model}: a JavaScript decoder only decodes; simulate this model in the native format")


def leaves(data: dict[str, Any], prefix: str = "") -> list[str]:
    """The dotted paths of the number and boolean fields of a decoder's data."""
    found = []
    for key, value in data.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            found += leaves(value, f"{path}.")
        elif isinstance(value, bool | int | float):
            found.append(path)
    return found


def load_models_file(path: Path) -> dict[str, JavaScriptCodec]:
    """Vendor -> codec of every model in ``path``; ``DecodersFileError`` naming what is wrong in it."""
    catalog = load_catalog()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise DecodersFileError(f"{path}: {error}") from None
    by_vendor: dict[str, dict[str, ScriptModel]] = {}
    for model_id, entry in data.get("models", {}).items():
        where = f"{path}: models.{model_id!r}"
        if not isinstance(entry, dict):
            raise DecodersFileError(f"{where} is not a table")
        script = _script_model(model_id, entry, path.parent, catalog, where)
        by_vendor.setdefault(script.model.vendor, {})[model_id] = script
    return {vendor: JavaScriptCodec(vendor, models) for vendor, models in by_vendor.items()}


def _script_model(model_id: str, entry: dict[str, Any], folder: Path, catalog: Catalog, where: str) -> ScriptModel:
    vendor, slash, name = model_id.partition("/")
    if not (slash and vendor and name) or model_id != model_id.lower():
        raise DecodersFileError(f"{where}: a model id is vendor/model in lower case, as in the device repository")
    kind = str(entry.get("kind", ""))
    if kind not in catalog.kinds:
        raise DecodersFileError(f"{where}: kind {kind!r} is not a catalog kind ({', '.join(sorted(catalog.kinds))})")
    quantities = catalog.quantities
    fields = []
    for output, target in dict(entry.get("fields", {})).items():
        quantity, unit = (target, None) if isinstance(target, str) else (target.get("quantity"), target.get("unit"))
        if quantity not in quantities:
            raise DecodersFileError(f"{where}: field {output!r} maps to {quantity!r}, which is no catalog quantity")
        fields.append(FieldMap(str(output), str(quantity), None if unit is None else str(unit)))
    if not fields:
        raise DecodersFileError(f"{where}: give a [fields] map from the decoder's output to catalog quantities")
    script_path = folder / str(entry.get("decoder", ""))
    try:
        source = script_path.read_text(encoding="utf-8")
    except OSError as error:
        raise DecodersFileError(f"{where}: decoder {script_path}: {error.strerror or error}") from None
    try:
        decoder = JavaScriptDecoder(source, model_id)
    except CodecError as error:
        raise DecodersFileError(f"{where}: {error.reason}") from None
    model = DeviceModel(
        id=model_id,
        name=str(entry.get("name", name)),
        kind=kind,
        quantities=tuple(dict.fromkeys(field.quantity for field in fields)),
        fport=int(entry.get("fport", 1)),
        interval_s=int(entry.get("interval_s", 900)),
    )
    return ScriptModel(model, decoder, tuple(fields))
