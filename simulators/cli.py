"""`suitcase simulate` (a simulated fleet) and `suitcase simulate replay FILE.csv` (a CSV as messages).

Both end with a summary (stdout; stderr when --dry-run writes the stream to stdout) and, with
--summary-json, the same as JSON. Exit status: 0 when every message was acknowledged, 1 when some were
not (or the arguments or a service said no), 130 after Ctrl-C.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from pydantic import SecretStr

from iot_suitcase.devices.errors import DecodeError
from iot_suitcase.devices.registry import RegistryError
from iot_suitcase.devices.settings import BrokerSettings, HttpSettings, SimulatorAccountSettings, TopicSettings
from iot_suitcase.devices.timestamps import parse_timestamp
from iot_suitcase.simulators import geo
from iot_suitcase.simulators.codecs import EncodingError
from iot_suitcase.simulators.delivery import DRY_RUN, HTTP, MQTT, Delivery, deliver
from iot_suitcase.simulators.fleet import FleetError, FleetSpec, build_fleet, ghost_of
from iot_suitcase.simulators.formats import FORMATS
from iot_suitcase.simulators.http import HTTP_FORMATS, HttpError, HttpOptions, load_api_keys
from iot_suitcase.simulators.model import FaultKind, Outgoing, SimDevice, Topics
from iot_suitcase.simulators.mqtt import MqttError, MqttOptions
from iot_suitcase.simulators.plan import FaultRates, Plan, PlanError, PlanSpec
from iot_suitcase.simulators.register import issue_api_keys, register_fleet
from iot_suitcase.simulators.replay import (
    REPLAY_FORMATS,
    ReplayError,
    load_mapping,
    read_rows,
    replay_devices,
    replay_messages,
)
from iot_suitcase.simulators.replay import with_flags as mapping_with_flags
from iot_suitcase.simulators.summary import Summary

_SERVICE_ERRORS = (FleetError, PlanError, RegistryError, MqttError, HttpError, ReplayError, EncodingError, DecodeError)
_INTERRUPTED = 130
_RELOAD_WAIT_S = 3.0  # a running ingest service re-reads the registry every 2 s


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "simulate",
        help="a simulated sensor fleet (every format, MQTT or HTTP, with faults); `simulate replay` for CSV files",
        description="Runs N devices per site with realistic signals, in every payload format the platform "
        "accepts, over MQTT (QoS 1) or HTTP, with faults at chosen rates; ends with a summary of what was sent "
        "and what the platform must store or reject. See simulators/README.md.",
    )
    fleet = parser.add_argument_group("fleet")
    fleet.add_argument(
        "--sites", default="1", help="a number of Aarhus districts, or site names: dokk1,viby (default 1)"
    )
    fleet.add_argument(
        "--devices-per-site", type=int, default=10, metavar="N", help="devices at each site (default 10)"
    )
    fleet.add_argument(
        "--kind", type=_names, default=(), help="only these kinds, e.g. climate,air_quality (default: all)"
    )
    fleet.add_argument(
        "--model", type=_names, default=(), help="only these models: vendor/model or native (default: by kind)"
    )
    fleet.add_argument(
        "--format",
        type=_names,
        default=None,
        help=f"formats to deal out per model: {','.join(FORMATS)} (default: all the transport takes)",
    )
    fleet.add_argument("--id-prefix", default="sim", help="device ids are <prefix>-<site>-<n> (default sim)")
    fleet.add_argument("--seed", type=int, default=1, help="same seed, same fleet and messages (default 1)")
    timing = parser.add_argument_group("timing")
    rate = timing.add_mutually_exclusive_group()
    rate.add_argument(
        "--interval", type=float, metavar="S", help="seconds between a device's messages (default: its model's)"
    )
    rate.add_argument("--rate", type=float, metavar="PER_S", help="messages per second per device")
    timing.add_argument("--jitter", type=float, default=0.1, help="interval jitter, a share of it (default 0.1)")
    timing.add_argument("--skew", type=float, metavar="S", help="spread of start times (default: one interval)")
    length = timing.add_mutually_exclusive_group()
    length.add_argument("--duration", type=float, metavar="S", help="simulated seconds to run")
    length.add_argument("--messages", type=int, metavar="N", help="reports per device")
    timing.add_argument(
        "--start",
        help="simulated start, RFC 3339 or epoch (default: now at --speed 1, else so that the run ends now)",
    )
    faults = parser.add_argument_group("faults")
    faults.add_argument(
        "--fault",
        action="append",
        default=[],
        type=_fault,
        metavar="KIND=RATE",
        help=f"a fault and its rate per report, repeatable; kinds: {', '.join(FaultKind)}",
    )
    faults.add_argument("--faults", type=float, default=0.0, metavar="RATE", help="a total rate spread over every kind")
    _add_common(parser, suppress=False)
    parser.set_defaults(handler=_guard(run_fleet))

    subcommands = parser.add_subparsers(dest="simulate_command", metavar="COMMAND")
    replay = subcommands.add_parser(
        "replay",
        help="replay a CSV of time-stamped readings as messages",
        description="Turns each row of a CSV file into a message with the row's own timestamp; columns map "
        "to quantities by --column flags or a --mapping TOML file (simulators/mappings/).",
    )
    replay.add_argument("file", type=Path, metavar="FILE.csv")
    replay.add_argument("--mapping", type=Path, metavar="TOML", help="a mapping file; flags override it")
    replay.add_argument(
        "--column", action="append", default=[], metavar="COL=QUANTITY[:UNIT]", help="map a column, repeatable"
    )
    replay.add_argument("--time-column", metavar="COL", help="the column with the time")
    replay.add_argument("--time-format", metavar="FMT", help="strptime format (default: ISO 8601 or epoch)")
    replay.add_argument("--timezone", metavar="TZ", help="zone of times without an offset (default UTC)")
    replay.add_argument("--device", metavar="ID", help="one device id for every row")
    replay.add_argument("--device-column", metavar="COL", help="the column naming the device")
    replay.add_argument("--device-prefix", metavar="P", help="prepended to the device column's values")
    replay.add_argument("--site", help="site of the replayed devices when registering (default replay)")
    replay.add_argument("--format", choices=REPLAY_FORMATS, default="native", help="native (default) or senml")
    replay.add_argument("--shift-to-now", action="store_true", help="move every time so that the last row is now")
    replay.add_argument("--limit", type=int, metavar="N", help="only the first N rows (by time)")
    _add_common(replay, suppress=True)
    replay.set_defaults(handler=_guard(run_replay))


def _add_common(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    """Options of both commands. On `replay` their defaults are suppressed, so one given before the
    word `replay` is not overwritten by the subcommand's default."""

    def default(value: object) -> object:
        return argparse.SUPPRESS if suppress else value

    env = SimulateSettings()
    out = parser.add_argument_group("delivery")
    out.add_argument("--transport", choices=(MQTT, HTTP), default=default(MQTT), help="mqtt (default) or http")
    out.add_argument(
        "--speed",
        type=float,
        default=default(None),
        help="simulated seconds per wall second: 1 real time, 3600 an hour a second, 0 as fast as possible "
        "(default: 1 for a fleet, 0 for a replay)",
    )
    out.add_argument("--dry-run", action="store_true", default=default(False), help="print the messages, send nothing")
    out.add_argument("--output", type=Path, default=default(None), help="--dry-run: write the messages here")
    out.add_argument("--summary-json", type=Path, default=default(None), metavar="FILE", help="the summary as JSON")
    out.add_argument(
        "--register", type=Path, default=default(None), metavar="REGISTRY.yaml", help="register the devices first"
    )
    out.add_argument("--register-only", action="store_true", default=default(False), help="register, send nothing")
    out.add_argument("--ack-timeout", type=float, default=default(120.0), metavar="S", help="wait for acks (120 s)")
    mqtt = parser.add_argument_group("MQTT")
    mqtt.add_argument("--mqtt-host", default=default(env.mqtt_host))
    mqtt.add_argument("--mqtt-port", type=int, default=default(env.mqtt_port))
    mqtt.add_argument(
        "--mqtt-username",
        default=default(env.simulator_mqtt_username if env.simulator_mqtt_password else None),
        help="a broker user that may publish the fleet's topics (env SUITCASE_SIMULATOR_MQTT_USERNAME)",
    )
    mqtt.add_argument(
        "--mqtt-password",
        default=default(_secret(env.simulator_mqtt_password)),
        help="its password; prefer env SUITCASE_SIMULATOR_MQTT_PASSWORD (flags show in the process list)",
    )
    mqtt.add_argument("--mqtt-client-id", default=default(""), help="fixed client id (default suitcase-sim-<pid>)")
    mqtt.add_argument("--topic-root", default=default(env.topic_root))
    mqtt.add_argument("--chirpstack-application", default=default(Topics().chirpstack_application), metavar="ID")
    mqtt.add_argument("--tts-application", default=default(Topics().tts_application), metavar="ID")
    mqtt.add_argument("--tts-tenant", default=default(Topics().tts_tenant), metavar="ID")
    http = parser.add_argument_group("HTTP")
    host = "127.0.0.1" if env.http_host in ("0.0.0.0", "::") else env.http_host  # noqa: S104 - a listen address
    http.add_argument(
        "--http-url", default=default(f"http://{host}:{env.http_port}"), help="the ingest service's HTTP API"
    )
    http.add_argument(
        "--api-keys",
        type=Path,
        default=default(None),
        metavar="FILE",
        help="device API keys: JSON lines of `suitcase devices credentials ID --json`",
    )
    http.add_argument(
        "--issue-credentials",
        action="store_true",
        default=default(False),
        help="issue credentials for the devices (SUITCASE_CREDENTIALS_FILE); with --api-keys, save them there",
    )
    http.add_argument("--http-concurrency", type=int, default=default(16), metavar="N")


class SimulateSettings(BrokerSettings, TopicSettings, SimulatorAccountSettings, HttpSettings):
    """The defaults of the fleet's flags: the platform's own settings (environment, .env)."""


def _secret(value: SecretStr | None) -> str | None:
    return None if value is None else value.get_secret_value()


def _names(text: str) -> tuple[str, ...]:
    return tuple(name.strip() for name in text.split(",") if name.strip())


def _fault(text: str) -> tuple[FaultKind, float]:
    name, _, rate = text.partition("=")
    try:
        return FaultKind(name.strip()), float(rate)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: write KIND=RATE with a kind of {', '.join(FaultKind)}") from None


Handler = Callable[[argparse.Namespace], int]


def _guard(handler: Handler) -> Handler:
    """Arguments or services that say no end as one line on stderr and exit status 1, not a traceback."""

    def run(args: argparse.Namespace) -> int:
        try:
            return handler(args)
        except _SERVICE_ERRORS as error:
            reason = error.reason if isinstance(error, DecodeError) else str(error)
            print(f"error: {reason}", file=sys.stderr)
            return 1

    return run


# --- the fleet ------------------------------------------------------------------------------------------
def _sites(text: str) -> tuple[str, ...]:
    if text.strip().isdigit():
        return tuple(geo.site_names(int(text)))
    return _names(text)


def _interval(args: argparse.Namespace) -> float | None:
    if args.rate is not None:
        if args.rate <= 0:
            raise PlanError("--rate must be above 0")
        return 1.0 / float(args.rate)
    interval: float | None = args.interval
    return interval


def _formats(args: argparse.Namespace) -> tuple[str, ...]:
    if args.format is None:
        return HTTP_FORMATS if args.transport == HTTP else tuple(FORMATS)
    if args.transport == HTTP:
        mqtt_only = [name for name in args.format if name in FORMATS and name not in HTTP_FORMATS]
        if mqtt_only:
            raise FleetError(f"{', '.join(mqtt_only)} cannot go over HTTP; HTTP takes {', '.join(HTTP_FORMATS)}")
    return args.format  # type: ignore[no-any-return]


def _plan_times(args: argparse.Namespace, devices: Sequence[SimDevice], speed: float) -> tuple[int, int | None]:
    """(start, end) in epoch ms; end None runs until Ctrl-C (real time only)."""
    now = round(time.time() * 1000)
    if args.duration is not None:
        span: int | None = round(args.duration * 1000)
    elif args.messages is not None:
        longest = max(device.interval_s for device in devices)
        skew = longest if args.skew is None else args.skew
        span = round((args.messages * longest * (1 + args.jitter) + skew) * 1000)
    else:
        span = None
    if span is None and (speed != 1.0 or args.dry_run):
        raise PlanError("give --duration or --messages (only a real-time run may go on until Ctrl-C)")
    if args.start is not None:
        try:
            start = round(parse_timestamp(_number_or_text(args.start)).timestamp() * 1000)
        except DecodeError as error:
            raise PlanError(f"--start: {error.reason}") from None
    else:
        start = now if speed == 1.0 or span is None else now - span
    return start, None if span is None else start + span


def _number_or_text(text: str) -> str | float:
    try:
        return float(text)
    except ValueError:
        return text


def run_fleet(args: argparse.Namespace) -> int:
    speed = 1.0 if args.speed is None else args.speed
    fleet_spec = FleetSpec(
        sites=_sites(args.sites),
        devices_per_site=args.devices_per_site,
        seed=args.seed,
        kinds=args.kind,
        models=args.model,
        formats=_formats(args),
        interval_s=_interval(args),
        id_prefix=args.id_prefix,
    )
    devices = build_fleet(fleet_spec)
    rates = FaultRates(dict(args.fault), args.faults)
    start, end = _plan_times(args, devices, speed)
    topics = Topics(args.topic_root, args.chirpstack_application, args.tts_application, args.tts_tenant)
    plan_spec = PlanSpec(
        start_ms=start,
        end_ms=end,
        reports=args.messages,
        jitter=args.jitter,
        skew_s=args.skew,
        faults=rates,
        topics=topics,
    )
    plan = Plan(devices, plan_spec, fleet_spec)
    if end is not None and speed != 1.0 and end > time.time() * 1000 + 60_000:
        print(
            "warning: the simulated time runs ahead of the clock: those messages will be time_in_future",
            file=sys.stderr,
        )
    ghosts = [ghost_of(device, fleet_spec) for device in devices] if _may_send_ghosts(rates) else []
    prepared = _prepare(args, devices, ghosts)
    if prepared is not None:
        return prepared
    summary = Summary(args.transport if not args.dry_run else DRY_RUN, args.seed, devices)
    summary.not_applicable = rates.not_applicable(sorted({device.format for device in devices}))
    return _deliver(args, plan.messages(), summary, plan.estimated_messages(), speed)


def _may_send_ghosts(rates: FaultRates) -> bool:
    return rates.spread > 0 or rates.rates.get(FaultKind.UNKNOWN_DEVICE, 0.0) > 0


def _prepare(args: argparse.Namespace, devices: Sequence[SimDevice], ghosts: Sequence[SimDevice]) -> int | None:
    """Register, issue keys; an exit status when there is nothing more to do (--register-only)."""
    if args.register is not None:
        done = register_fleet(args.register, devices, ghosts)
        print(f"registered {done.added} devices in {args.register} ({done.already} already there)", file=sys.stderr)
        if done.ghosts_registered:
            print(
                f"warning: {len(done.ghosts_registered)} of the ids meant to stay unknown are registered (e.g. "
                f"{done.ghosts_registered[0]}): their unknown_device faults will be stored, not rejected",
                file=sys.stderr,
            )
        if args.register_only:
            return 0
        if done.added and not args.dry_run:
            time.sleep(_RELOAD_WAIT_S)  # a running ingest service picks the new devices up within 2 s
    elif args.register_only:
        raise FleetError("--register-only needs --register REGISTRY.yaml")
    return None


def _deliver(
    args: argparse.Namespace, messages: Iterator[Outgoing], summary: Summary, total: int | None, speed: float
) -> int:
    api_keys: dict[str, str] = {}
    if args.transport == HTTP and not args.dry_run:
        if args.api_keys is not None and not args.issue_credentials:
            api_keys = load_api_keys(args.api_keys)
        if args.issue_credentials:
            api_keys = issue_api_keys([device.id for device in summary.devices], args.api_keys)
    output: TextIO | None = None
    if args.dry_run and args.output is not None:
        output = args.output.open("w", encoding="utf-8")
    delivery = Delivery(
        transport=DRY_RUN if args.dry_run else args.transport,
        speed=speed,
        mqtt=MqttOptions(
            host=args.mqtt_host,
            port=args.mqtt_port,
            username=args.mqtt_username,
            password=args.mqtt_password,
            client_id=args.mqtt_client_id,
        ),
        http=HttpOptions(url=args.http_url, concurrency=args.http_concurrency),
        api_keys=api_keys,
        ack_timeout_s=args.ack_timeout,
        output=output,
    )
    try:
        deliver(messages, delivery, summary, total)
    finally:
        if output is not None:
            output.close()
    report = sys.stderr if args.dry_run and args.output is None else sys.stdout
    print(summary.text(), file=report)
    if args.summary_json is not None:
        summary.write_json(args.summary_json)
    if summary.interrupted:
        return _INTERRUPTED
    return 0 if summary.as_declared else 1


# --- replay ---------------------------------------------------------------------------------------------
def run_replay(args: argparse.Namespace) -> int:
    base = load_mapping(args.mapping) if args.mapping is not None else None
    mapping = mapping_with_flags(
        base,
        columns=args.column,
        time_column=args.time_column,
        time_format=args.time_format,
        timezone=args.timezone,
        device=args.device,
        device_column=args.device_column,
        device_prefix=args.device_prefix,
        site=args.site,
    )
    rows, read = read_rows(args.file, mapping)
    if args.limit is not None:
        rows = rows[: args.limit]
    if not rows:
        raise ReplayError(f"{args.file}: no usable rows ({read.rows} read; {dict(read.skipped_rows)})")
    devices = replay_devices(rows, mapping, args.format)
    shift_us = 0
    if args.shift_to_now:
        shift_us = math.floor(time.time() * 1_000_000) - rows[-1].time_us
    topics = Topics(args.topic_root, args.chirpstack_application, args.tts_application, args.tts_tenant)
    prepared = _prepare(args, list(devices.values()), [])
    if prepared is not None:
        return prepared
    summary = Summary(args.transport if not args.dry_run else DRY_RUN, None, list(devices.values()))
    note = (
        f"read {read.rows} rows of {args.file}: {len(rows)} replayed, skipped {dict(read.skipped_rows) or 'none'}, "
        f"{read.missing_cells} empty cells, {read.bad_cells} unreadable cells"
    )
    print(note, file=sys.stderr)
    for example in read.examples:
        print(f"  {example}", file=sys.stderr)
    first = datetime.fromtimestamp(rows[0].time_us / 1e6, UTC).isoformat()
    print(f"first row at {first}{' (shifted to end now)' if shift_us else ''}", file=sys.stderr)
    speed = 0.0 if args.speed is None else args.speed
    return _deliver(args, replay_messages(rows, devices, topics, shift_us=shift_us), summary, len(rows), speed)
