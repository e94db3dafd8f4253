"""Commands of the domain core: `suitcase decode`, `suitcase schema`, `suitcase catalog`."""

from __future__ import annotations

import argparse
import base64
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

from pydantic_settings import CliSettingsSource

from iot_suitcase.devices.catalog import load_catalog
from iot_suitcase.devices.codecs import MODELS, decode_uplink
from iot_suitcase.devices.codecs.javascript import JavaScriptDecoder
from iot_suitcase.devices.decode import AUTO, Decoder
from iot_suitcase.devices.errors import DecodeError, RejectCode
from iot_suitcase.devices.formats import FORMATS, Message
from iot_suitcase.devices.formats.native import NativePayload
from iot_suitcase.devices.reading import format_time
from iot_suitcase.devices.settings import DecodeSettings


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    decode = commands.add_parser(
        "decode",
        help="decode one payload from stdin into canonical readings (JSON Lines)",
        description="Reads one payload on stdin and prints one JSON object per canonical reading. "
        'A rejected payload prints {"error": code, "reason": text} and exits 1.',
    )
    decode.add_argument("--topic", help="the MQTT topic it arrived on (picks the format and device)")
    decode.add_argument("--format", default=AUTO, choices=[AUTO, *FORMATS], help="payload format")
    options: CliSettingsSource[DecodeSettings] = CliSettingsSource(DecodeSettings, root_parser=decode)
    decode.set_defaults(
        handler=lambda args: run_decode(args, DecodeSettings(_cli_settings_source=options(parsed_args=args)))
    )

    schema = commands.add_parser("schema", help="print the JSON Schema of the native payload")
    schema.set_defaults(handler=lambda _args: print_schema())

    codec = commands.add_parser("codec", help="LoRaWAN codecs: list models, decode raw payload bytes")
    codec_commands = codec.add_subparsers(dest="codec_command", required=True, metavar="COMMAND")
    codec_commands.add_parser("list", help="list the models that have a codec").set_defaults(
        handler=lambda _args: list_codecs()
    )
    codec_decode = codec_commands.add_parser(
        "decode",
        help="decode one uplink's bytes into canonical readings (JSON Lines)",
        description='Prints one JSON object per canonical reading (device_id "-"); on a decode error prints '
        '{"error": code, "reason": text} and exits 1.',
    )
    codec_decode.add_argument("model", metavar="VENDOR/MODEL")
    codec_decode.add_argument("hex", nargs="?", metavar="HEX", help="payload bytes as hex")
    codec_decode.add_argument("--base64", metavar="B64", help="payload bytes as base64 instead of hex")
    codec_decode.add_argument("--fport", type=int, required=True, help="LoRaWAN FPort of the uplink")
    codec_decode.set_defaults(handler=run_codec_decode, trailing="hex")
    codec_test = codec_commands.add_parser(
        "test",
        help="run a JavaScript decoder (decodeUplink, The Things Network's format) on one uplink, sandboxed",
        description='Prints what decodeUplink returns, as JSON, or {"error": code, "reason": text} and exit 1: the '
        "same sandbox, time and memory limits as the ingest service.",
    )
    codec_test.add_argument("script", type=Path, metavar="FILE.js")
    codec_test.add_argument("hex", nargs="?", metavar="HEX", help="payload bytes as hex")
    codec_test.add_argument("--base64", metavar="B64", help="payload bytes as base64 instead of hex")
    codec_test.add_argument("--fport", type=int, required=True, help="LoRaWAN FPort of the uplink")
    codec_test.set_defaults(handler=run_codec_test, trailing="hex")

    catalog = commands.add_parser("catalog", help="list quantities with canonical units, ranges and units accepted")
    catalog.add_argument("--json", action="store_true", help="machine-readable output")
    catalog.set_defaults(handler=lambda args: print_catalog(as_json=args.json))


def run_decode(args: argparse.Namespace, options: DecodeSettings) -> int:
    message = Message(payload=sys.stdin.buffer.read(), received_at=datetime.now(UTC), topic=args.topic)
    try:
        readings = Decoder(options).decode(message, args.format)
    except DecodeError as error:
        print(json.dumps(error.as_dict(), ensure_ascii=False))
        return 1
    for reading in readings:
        print(reading.as_json())
    return 0


def print_schema() -> int:
    print(json.dumps(NativePayload.model_json_schema(), indent=2, ensure_ascii=False))
    return 0


def print_catalog(*, as_json: bool) -> int:
    catalog = load_catalog()
    if as_json:
        rows = [
            {**q.model_dump(), "accepted_units": q.accepted_units, "kinds": catalog.kinds_of(q.name)}
            for q in catalog.quantities.values()
        ]
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return 0
    print(f"{'quantity':<16}{'unit':<8}{'range':<26}accepted units")
    for q in catalog.quantities.values():
        print(f"{q.name:<16}{q.unit:<8}{f'[{q.min:g}, {q.max:g}]':<26}{', '.join(q.accepted_units)}")
    return 0


def list_codecs() -> int:
    print(f"{'model':<28}{'name':<22}{'kind':<14}{'fport':<7}quantities")
    for model in sorted(MODELS.values(), key=lambda m: m.id):
        print(f"{model.id:<28}{model.name:<22}{model.kind:<14}{model.fport:<7}{', '.join(model.quantities)}")
    return 0


def run_codec_decode(args: argparse.Namespace) -> int:
    catalog = load_catalog()
    try:
        payload = _payload_bytes(args.hex, args.base64)
        received = format_time(datetime.now(UTC))
        rows = []
        for raw in decode_uplink(args.model, args.fport, payload):
            quantity = catalog.quantity(raw.quantity)
            value = catalog.canonical_value(quantity, raw.value, raw.unit)
            time = received if raw.time is None else format_time(raw.time)
            rows.append(
                {"device_id": "-", "time": time, "quantity": quantity.name, "value": value, "unit": quantity.unit}
            )
    except DecodeError as error:
        print(json.dumps(error.as_dict(), ensure_ascii=False))
        return 1
    for row in rows:
        print(json.dumps(row, ensure_ascii=False))
    return 0


def run_codec_test(args: argparse.Namespace) -> int:
    try:
        payload = _payload_bytes(args.hex, args.base64)
        source = args.script.read_text(encoding="utf-8")
        output = JavaScriptDecoder(source, args.script.name).decode_uplink(args.fport, payload)
    except OSError as error:
        print(json.dumps({"error": "no_codec", "reason": f"{args.script}: {error.strerror or error}"}))
        return 1
    except DecodeError as error:
        print(json.dumps(error.as_dict(), ensure_ascii=False))
        return 1
    print(json.dumps({"data": output.data, "warnings": output.warnings}, ensure_ascii=False, indent=2))
    return 0


def _payload_bytes(hex_text: str | None, b64_text: str | None) -> bytes:
    if (hex_text is None) == (b64_text is None):
        raise DecodeError(RejectCode.CODEC_ERROR, "give the payload either as HEX or with --base64")
    try:
        if b64_text is not None:
            return base64.b64decode(b64_text, validate=True)
        return bytes.fromhex(hex_text or "")
    except ValueError as error:
        raise DecodeError(RejectCode.CODEC_ERROR, f"payload is not valid hex/base64: {error}") from None
