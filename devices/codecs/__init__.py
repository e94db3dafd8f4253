"""LoRaWAN codecs, one folder per vendor; registering a vendor is one line in ``VENDOR_PACKAGES``.

Each vendor package exposes ``CODEC``, an object of the ``Codec`` protocol (devices/codecs/base.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib import import_module
from pathlib import Path
from typing import Any

from iot_suitcase.devices.codecs.base import Codec, CodecError, CodecReadings, DeviceModel, load_models
from iot_suitcase.devices.codecs.javascript import DecodersFileError, JavaScriptCodec, load_models_file
from iot_suitcase.devices.errors import DecodeError, RejectCode

VENDOR_PACKAGES: tuple[str, ...] = (
    # one line per vendor folder under devices/codecs/, e.g. "elsys",
    "elsys",
    "milesight_iot",
    "decentlab",
    "dragino",
    "sensative",
)

CODECS: dict[str, Codec] = {
    codec.vendor: codec
    for codec in (import_module(f"iot_suitcase.devices.codecs.{name}").CODEC for name in VENDOR_PACKAGES)
}
MODELS: dict[str, DeviceModel] = {model.id: model for codec in CODECS.values() for model in codec.models.values()}


def codec_for(model_id: str) -> Codec:
    """The codec of ``vendor/model``, or a ``no_codec`` reject naming the models that do have one."""
    if model_id not in MODELS:
        raise DecodeError(
            RejectCode.NO_CODEC,
            f"no codec for model {model_id!r}; known models: {', '.join(sorted(MODELS)) or 'none'}",
        )
    return CODECS[MODELS[model_id].vendor]


_installed: set[Path] = set()
_script_vendors: set[str] = set()


def install_javascript_models(path: Path | None) -> None:
    """Add the models of a JavaScript decoders file (SUITCASE_JAVASCRIPT_DECODERS_FILE) beside the built-in
    codecs, once per file; a missing file adds none. ``DecodersFileError`` names what is wrong in the file, and a
    vendor that has a built-in codec here cannot be given JavaScript models (one codec per vendor)."""
    if path is None or path in _installed or not path.is_file():
        return
    added = load_models_file(path)
    taken = sorted(vendor for vendor in added if vendor in CODECS and vendor not in _script_vendors)
    if taken:
        raise DecodersFileError(
            f"{path}: {', '.join(taken)} has a codec here already; name the models of another vendor"
        )
    for vendor, codec in added.items():
        for model_id in list(MODELS):
            if MODELS[model_id].vendor == vendor:
                del MODELS[model_id]
        CODECS[vendor] = codec
        MODELS.update(codec.models)
        _script_vendors.add(vendor)
    _installed.add(path)


def decoded_by_network_server(model_id: str) -> bool:
    """Whether a model is decoded by its network server's payload formatter and only mapped here (a model of
    the decoders file without a script)."""
    codec = CODECS.get(model_id.split("/", 1)[0])
    return isinstance(codec, JavaScriptCodec) and model_id in codec.models and codec.decoded_by_network_server(model_id)


def map_decoded(model_id: str, data: Mapping[str, Any]) -> CodecReadings:
    """The catalog readings of a network server's decoded payload, through the model's field map."""
    codec = CODECS[model_id.split("/", 1)[0]]
    assert isinstance(codec, JavaScriptCodec)
    return codec.map_fields(model_id, data)


def forget_javascript_models() -> None:
    """Let the files installed so far be installed again (tests that restore the tables)."""
    _installed.clear()
    _script_vendors.clear()


def decode_uplink(model_id: str, fport: int, payload: bytes) -> CodecReadings:
    """Decode raw LoRaWAN payload bytes of a known model (with the count of unknown fields read past)."""
    readings = codec_for(model_id).decode(model_id, fport, payload)
    return readings if isinstance(readings, CodecReadings) else CodecReadings(readings)


__all__ = [
    "CODECS",
    "MODELS",
    "Codec",
    "CodecError",
    "CodecReadings",
    "DeviceModel",
    "codec_for",
    "decode_uplink",
    "install_javascript_models",
    "load_models",
]
