"""Models registered by staff in a TOML file, for sensors without a codec here.

A model names its decoder script (a path relative to the file), whose output a field map (dotted paths) turns
into catalog quantities; or it names no script, and the same kind of map turns the payload its network server
decoded (ChirpStack's ``object``, The Things Stack's ``decoded_payload``). An output field the map does not name
is read past and counted.
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
    decoder: JavaScriptDecoder | None  # None: the network server decodes, the map is all there is here
    fields: tuple[FieldMap, ...]


class JavaScriptCodec:
    """The registered JavaScript models of one vendor."""

    def __init__(self, vendor: str, models: Mapping[str, ScriptModel]) -> None:
        self.vendor = vendor
        self._scripts = dict(models)
        self.models: Mapping[str, DeviceModel] = {model_id: s.model for model_id, s in models.items()}

    def decode(self, model: str, fport: int, payload: bytes) -> CodecReadings:
        script = self._script(model)
        if fport not in _APPLICATION_PORTS:
            raise CodecError(f"{model}: fport {fport} is not an application port (1-223)")
        if script.decoder is None:
            raise CodecError(
                f"{model} is decoded by its network server (a payload formatter there), and this uplink carried "
                "no decoded payload: turn the formatter on"
            )
        return self.map_fields(model, script.decoder.decode_uplink(fport, payload).data)

    def decoded_by_network_server(self, model: str) -> bool:
        return self._script(model).decoder is None

    def map_fields(self, model: str, data: Mapping[str, Any]) -> CodecReadings:
        """The catalog readings of a decoder's output (this project's or the network server's)."""
        script = self._script(model)
        readings = []
        for field in script.fields:
            value = number_at(data, field.path)
            if value is not None:
                readings.append(RawReading(field.quantity, value, field.unit))
        mapped = {field.path for field in script.fields}
        skipped = sum(1 for path in leaves(data) if path not in mapped)
        return CodecReadings(readings, skipped=skipped)

    def _script(self, model: str) -> ScriptModel:
        script = self._scripts.get(model)
        if script is None:
            raise CodecError(f"{self.vendor}: no decoder is registered for {model!r}")
        return script

    def encode(self, model: str, fport: int, values: Mapping[str, float]) -> bytes:
        raise CodecError(f"{model}: a JavaScript decoder only decodes; simulate this model in the native format")


def leaves(data: Mapping[str, Any], prefix: str = "") -> list[str]:
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


def _decoder(model_id: str, script_path: Path, where: str) -> JavaScriptDecoder:
    try:
        source = script_path.read_text(encoding="utf-8")
    except OSError as error:
        raise DecodersFileError(f"{where}: decoder {script_path}: {error.strerror or error}") from None
    try:
        return JavaScriptDecoder(source, model_id)
    except CodecError as error:
        raise DecodersFileError(f"{where}: {error.reason}") from None


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
    decoder = None if "decoder" not in entry else _decoder(model_id, folder / str(entry["decoder"]), where)
    model = DeviceModel(
        id=model_id,
        name=str(entry.get("name", name)),
        kind=kind,
        quantities=tuple(dict.fromkeys(field.quantity for field in fields)),
        fport=int(entry.get("fport", 1)),
        interval_s=int(entry.get("interval_s", 900)),
    )
    return ScriptModel(model, decoder, tuple(fields))
