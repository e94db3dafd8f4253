"""`suitcase ingest`: run the ingest service, configured by SUITCASE_* variables and flags."""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import ssl
import sys
import time
import urllib.request
from pathlib import Path

from pydantic_settings import CliSettingsSource

from iot_suitcase.devices.codecs.javascript import DecodersFileError
from iot_suitcase.devices.registry import RegistryError
from iot_suitcase.devices.settings import HttpSettings
from iot_suitcase.ingest import heap
from iot_suitcase.ingest.config import IngestSettings
from iot_suitcase.ingest.operations.logs import configure_logging
from iot_suitcase.ingest.sink.rejects import RejectStore, StoredReject
from iot_suitcase.ingest.workers import Supervisor, workers_to_start


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "ingest",
        help="run the ingest service (MQTT -> InfluxDB)",
        description="Receives sensor readings over MQTT, decodes and validates them and writes them to "
        "InfluxDB. Every flag can also be set as a SUITCASE_<NAME> environment variable.",
    )
    source: CliSettingsSource[IngestSettings] = CliSettingsSource(IngestSettings, root_parser=parser)
    parser.set_defaults(handler=lambda args: run(IngestSettings(_cli_settings_source=source(parsed_args=args))))

    health = commands.add_parser(
        "health",
        help="exit 0 when this machine's ingest service answers /healthz (the image's health check)",
        description="Asks /healthz of the ingest service on 127.0.0.1 at SUITCASE_HTTP_PORT, over HTTPS when "
        "SUITCASE_HTTP_TLS_CERT is set (its own certificate is not checked: it is this machine's own process).",
    )
    health.set_defaults(handler=check_health)

    rejects = commands.add_parser("rejects", help="inspect the messages that were not stored, and why")
    rejects_commands = rejects.add_subparsers(dest="rejects_command", required=True, metavar="COMMAND")
    listing = rejects_commands.add_parser(
        "list",
        help="list rejects, newest first",
        description="Lists the rejects store of an ingest service (SUITCASE_DATA_DIR): time, device, reason "
        "code, reason, topic and raw payload of every message that was not stored.",
    )
    listing.add_argument("--device", help="only this device")
    listing.add_argument("--reason", help="only this reason code (e.g. out_of_range)")
    listing.add_argument("--limit", type=int, default=100, help="at most this many (default 100)")
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    listing.add_argument("--data-dir", type=Path, help="the service's data dir (default: SUITCASE_DATA_DIR)")
    listing.set_defaults(handler=list_rejects)
    replay = rejects_commands.add_parser(
        "replay",
        help="take in the messages a device sent before it was registered",
        description="Messages of a device that was not registered yet are kept as unknown_device rejects. "
        "Once it is registered, this asks the running ingest service (the one with this data dir) to take them "
        "in: stored with the times they arrived, once, then no longer listed as rejects.",
    )
    replay.add_argument("device", help="the device id, registered now")
    replay.add_argument("--data-dir", type=Path, help="the service's data dir (default: SUITCASE_DATA_DIR)")
    replay.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for the service (default 60)")
    replay.set_defaults(handler=replay_rejects)


def check_health(_args: argparse.Namespace) -> int:
    settings = HttpSettings()
    context = None
    if settings.http_tls_cert:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE  # loopback, this machine's own process: nothing to authenticate
    url = f"{settings.http_scheme}://127.0.0.1:{settings.http_port}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=4, context=context) as answer:  # noqa: S310 (a fixed http(s) URL)
            return 0 if answer.status == 200 else 1
    except OSError as error:
        print(f"unhealthy: {url}: {error}", file=sys.stderr)
        return 1


def _rejects_store(args: argparse.Namespace) -> RejectStore | None:
    """The rejects store of the service with ``--data-dir`` (else SUITCASE_DATA_DIR); None, said, if none."""
    path = args.data_dir / "rejects.sqlite3" if args.data_dir else IngestSettings().rejects_path
    if not path.exists():
        print(f"no rejects store at {path} (has the ingest service run with this data dir?)")
        return None
    return RejectStore(path)


def list_rejects(args: argparse.Namespace) -> int:
    store = _rejects_store(args)
    if store is None:
        return 1
    try:
        found = store.list(device=args.device, code=args.reason, limit=args.limit)
    finally:
        store.close()
    for reject in found:
        print(json.dumps(_as_json(reject), ensure_ascii=False) if args.json else _as_text(reject))
    return 0


def replay_rejects(args: argparse.Namespace) -> int:
    store = _rejects_store(args)
    if store is None:
        return 1
    try:
        waiting = store.waiting().get(args.device, 0)
        if not waiting:
            print(f"no messages of {args.device} are waiting")
            return 0
        store.ask_to_take_in(args.device, time.time())
        print(f"asked the ingest service to take in {waiting} messages of {args.device}")
        deadline = time.monotonic() + args.timeout
        while args.device in store.take_in_requests():
            if time.monotonic() > deadline:
                print(f"the service has not answered in {args.timeout:g} s; it takes them in when it runs")
                return 1
            time.sleep(0.2)
        left = store.waiting().get(args.device, 0)
    finally:
        store.close()
    if left:
        print(f"{left} messages still wait: is {args.device} in the registry the service reads?")
        return 1
    print(f"taken in: {waiting} messages of {args.device}, stored with the times they arrived")
    return 0


def _payload_text(payload: bytes) -> str | None:
    try:
        return payload.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _as_json(reject: StoredReject) -> dict[str, object]:
    return {
        "received_at": reject.received_at.isoformat(),
        "device": reject.device_id,
        "reason": reject.code,
        "detail": reject.reason,
        "topic": reject.topic,
        "payload": _payload_text(reject.payload),
        "payload_base64": base64.b64encode(reject.payload).decode(),
    }


def _as_text(reject: StoredReject) -> str:
    text = _payload_text(reject.payload)
    payload = repr(text[:200]) if text is not None else f"base64:{base64.b64encode(reject.payload[:150]).decode()}"
    return (
        f"{reject.received_at.isoformat(timespec='seconds')}  {reject.device_id or '-'}  {reject.code}: "
        f"{reject.reason}\n    topic={reject.topic!r} payload={payload}"
    )


def run(settings: IngestSettings) -> int:
    from iot_suitcase.ingest.service import serve  # noqa: PLC0415 (lazy: only where the service runs)

    configure_logging(settings.log_level, settings.log_format)
    count = workers_to_start(settings)
    if count > 1:
        return Supervisor(settings, count).run()
    heap.settle()
    try:
        return asyncio.run(serve(settings))
    except RegistryError as error:
        print(f"the registry {settings.registry_file} does not load; fix it first:\n{error}", file=sys.stderr)
        return 2
    except DecodersFileError as error:
        print(f"the JavaScript decoders file does not load; fix it first:\n{error}", file=sys.stderr)
        return 2
