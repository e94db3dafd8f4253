"""Commands of the domain core: `suitcase decode`, `suitcase schema`, `suitcase catalog`."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime

from pydantic_settings import CliSettingsSource

from devices.catalog import load_catalog
from devices.decode import AUTO, DecodeOptions, Decoder
from devices.errors import DecodeError
from devices.formats import FORMATS, Message
from devices.formats.native import NativePayload


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    decode = commands.add_parser(
        "decode",
        help="decode one payload from stdin into canonical readings (JSON Lines)",
        description="Reads one payload on stdin and prints one JSON object per canonical reading. "
        'A rejected payload prints {"error": code, "reason": text} and exits 1.',
    )
    decode.add_argument("--topic", help="the MQTT topic it arrived on (picks the format and device)")
    decode.add_argument("--format", default=AUTO, choices=[AUTO, *FORMATS], help="payload format")
    options: CliSettingsSource[DecodeOptions] = CliSettingsSource(DecodeOptions, root_parser=decode)
    decode.set_defaults(
        handler=lambda args: run_decode(args, DecodeOptions(_cli_settings_source=options(parsed_args=args)))
    )

    schema = commands.add_parser("schema", help="print the JSON Schema of the native payload")
    schema.set_defaults(handler=lambda _args: print_schema())

    catalog = commands.add_parser("catalog", help="list quantities with canonical units, ranges and units accepted")
    catalog.add_argument("--json", action="store_true", help="machine-readable output")
    catalog.set_defaults(handler=lambda args: print_catalog(as_json=args.json))


def run_decode(args: argparse.Namespace, options: DecodeOptions) -> int:
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
