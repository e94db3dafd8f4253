"""Vendor JavaScript decoders (The Things Network Device Repository format) for models without a codec here
(see README.md in this folder)."""

from iot_suitcase.devices.codecs.javascript.codec import DecodersFileError, JavaScriptCodec, load_models_file
from iot_suitcase.devices.codecs.javascript.sandbox import JavaScriptDecoder

__all__ = ["DecodersFileError", "JavaScriptCodec", "JavaScriptDecoder", "load_models_file"]
