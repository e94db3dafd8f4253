"""The message stream: deterministic per seed (acceptance 3), and every message's declared outcome is what the
platform's own decoder makes of it, for every format and fault kind."""

from __future__ import annotations

import json
import time
from collections import Counter
from datetime import UTC, datetime

import pytest

from iot_suitcase.devices.catalog import load_catalog
from iot_suitcase.devices.codecs import MODELS
from iot_suitcase.devices.decode import Decoder
from iot_suitcase.devices.errors import DecodeError
from iot_suitcase.devices.formats import Message
from iot_suitcase.devices.settings import DecodeSettings
from iot_suitcase.simulators.delivery import stream_line
from iot_suitcase.simulators.fleet import FleetError, FleetSpec, build_fleet
from iot_suitcase.simulators.formats import FORMATS
from iot_suitcase.simulators.model import FaultKind, Outgoing, SimDevice, Topics
from iot_suitcase.simulators.plan import HOUR_MS, FaultRates, Plan, PlanError, PlanSpec

NOW_MS = round(time.time() * 1000)  # the plans below end now, as the command's do at --speed 0
TOPICS = Topics(root="simtest")


def make_plan(
    *,
    seed: int = 1,
    sites: tuple[str, ...] = ("aarhus-c", "dokk1", "viby"),
    per_site: int = 40,
    reports: int = 20,
    faults: FaultRates | None = None,
    **fleet: object,
) -> tuple[list[SimDevice], Plan]:
    spec = FleetSpec(sites=sites, devices_per_site=per_site, seed=seed, **fleet)  # type: ignore[arg-type]
    devices = build_fleet(spec)
    span = round(max(d.interval_s for d in devices) * 1000 * (reports * 1.1 + 1))
    plan_spec = PlanSpec(
        start_ms=NOW_MS - span, end_ms=NOW_MS, reports=reports, faults=faults or FaultRates(), topics=TOPICS
    )
    return devices, Plan(devices, plan_spec, spec)


def stream(plan: Plan) -> list[tuple[int, str, str, bytes, str | None, str | None]]:
    return [(m.at_ms, m.device.id, m.topic, m.payload, m.fault, m.reject) for m in plan.messages()]


def test_the_same_seed_gives_the_same_stream_and_another_seed_another() -> None:
    _, first = make_plan(seed=42, faults=FaultRates(spread=0.1))
    _, again = make_plan(seed=42, faults=FaultRates(spread=0.1))
    _, other = make_plan(seed=43, faults=FaultRates(spread=0.1))
    messages = stream(first)
    assert len(messages) > 2400
    assert messages == stream(again)
    different = stream(other)
    assert different != messages
    assert {m[2] for m in different} != {m[2] for m in messages}  # other device ids, other values


def test_the_stream_is_in_time_order_and_one_device_s_faults_leave_the_others_alone() -> None:
    _, clean = make_plan(seed=5, per_site=10)
    _, faulty = make_plan(seed=5, per_site=10, faults=FaultRates(spread=0.05))
    clean_messages = list(clean.messages())
    times = [m.at_ms for m in clean_messages]
    assert times == sorted(times)
    faulty_messages = list(faulty.messages())
    touched = {m.device.index for m in faulty_messages if m.fault is not None}
    assert 0 < len(touched) < 30

    # each device draws timing, values and faults from its own streams keyed by the seed
    def untouched(messages: list[Outgoing]) -> list[tuple[int, str, bytes]]:
        return [(m.at_ms, m.topic, m.payload) for m in messages if m.device.index not in touched]

    assert untouched(faulty_messages) == untouched(clean_messages)
    assert len(untouched(clean_messages)) > 0


def decoder_for(devices: list[SimDevice]) -> Decoder:
    decoder = Decoder(DecodeSettings(topic_root=TOPICS.root, future_tolerance_s=600))
    models = {}
    for device in devices:
        if device.dev_eui is not None:
            models[device.id] = models[device.dev_eui] = device.model
    decoder.add_device_models(models)  # what the registry tells the ingest service
    return decoder


def outcome(decoder: Decoder, message: Outgoing) -> tuple[str, list[tuple[str, float, int | None]]]:
    received = datetime.now(UTC)
    try:
        result = decoder.decode_message(Message(message.payload, received, message.topic))
    except DecodeError as error:
        return str(error.code), []
    received_ns = int(received.timestamp()) * 10**9 + received.microsecond * 1000
    readings = []
    for reading in result.readings:
        stamp = int(reading.time.timestamp()) * 10**9 + reading.time.microsecond * 1000
        readings.append((reading.quantity, reading.value, None if stamp == received_ns else stamp))
    return ("unknown_device" if message.device.ghost else "stored"), sorted(readings, key=str)


def test_every_message_does_what_it_declares_in_every_format_and_fault() -> None:
    devices, plan = make_plan(seed=7, faults=FaultRates(spread=0.25))
    decoder = decoder_for(devices)
    registered = {device.id for device in devices}
    seen: Counter[tuple[str, str | None]] = Counter()
    for message in plan.messages():
        seen[(message.format, message.fault)] += 1
        if not message.sendable:
            assert message.fault is FaultKind.SILENCE
            assert message.skipped >= 2
            continue
        verdict, readings = outcome(decoder, message)
        if message.reject is not None:
            assert verdict == message.reject, (message.topic, message.payload[:200])
            if message.fault is FaultKind.UNKNOWN_DEVICE:
                assert message.device.id not in registered
        elif message.repeat:
            assert verdict == "stored"
        else:
            want = sorted(((r.quantity, r.value, r.time_ns) for r in message.readings), key=str)
            assert (verdict, readings) == ("stored", want), (message.topic, message.payload[:200])
    for name, fmt in FORMATS.items():
        for kind in fmt.faults:
            assert seen[(name, kind)] > 0, f"{name} never carried {kind}"
        for kind in set(FaultKind) - fmt.faults:
            assert seen[(name, kind)] == 0
        assert seen[(name, None)] > 0


def test_duplicates_late_and_future_messages_have_their_timestamps() -> None:
    _devices, plan = make_plan(
        seed=11, per_site=20, faults=FaultRates({FaultKind.DUPLICATE: 0.1, FaultKind.LATE: 0.1, FaultKind.FUTURE: 0.1})
    )
    messages = list(plan.messages())
    by_payload = Counter((m.topic, m.payload) for m in messages)
    copies = [m for m in messages if m.repeat]
    assert copies
    assert all(by_payload[(m.topic, m.payload)] == 2 for m in copies)
    assert all(m.readings == () and m.reject is None for m in copies)
    for message in messages:
        if message.fault is FaultKind.LATE:
            age_ms = message.at_ms - message.readings[0].time_ns // 1_000_000  # type: ignore[operator]
            assert HOUR_MS <= age_ms <= 6 * HOUR_MS + 1
        if message.fault is FaultKind.FUTURE:
            assert message.reject == "time_in_future"
    stamps = Counter((m.device.id, r.quantity, r.time_ns) for m in messages for r in m.readings if r.time_ns)
    assert max(stamps.values()) == 1  # no two stored readings share a point: none overwrites another


def test_silences_and_bursts_change_what_is_sent() -> None:
    _, quiet = make_plan(seed=3, per_site=10, faults=FaultRates({FaultKind.SILENCE: 0.2}))
    _, busy = make_plan(seed=3, per_site=10, faults=FaultRates({FaultKind.BURST: 0.2}))
    _, plain = make_plan(seed=3, per_site=10)
    plain_count = sum(m.sendable for m in plain.messages())
    quiet_messages = list(quiet.messages())
    left_out = sum(m.skipped for m in quiet_messages)
    assert left_out > 0
    assert sum(m.sendable for m in quiet_messages) < plain_count
    busy_messages = list(busy.messages())
    extra = [m for m in busy_messages if m.fault is FaultKind.BURST]
    assert sum(m.event for m in extra) * 3 <= len(extra)
    assert len(busy_messages) == plain_count + len(extra)


def test_a_total_fault_rate_is_spread_over_the_kinds_each_format_can_carry() -> None:
    _, plan = make_plan(seed=9, per_site=30, reports=50, faults=FaultRates(spread=0.3), formats=("single_value",))
    events = Counter(m.fault for m in plan.messages() if m.event)
    reports = 90 * 50
    assert set(events) == FORMATS["single_value"].faults
    assert 0.25 * reports < sum(events.values()) < 0.35 * reports


def test_fault_rates_are_checked() -> None:
    with pytest.raises(PlanError, match="add up to at most 1"):
        FaultRates({FaultKind.LATE: 0.7}, spread=0.5)
    with pytest.raises(PlanError, match="jitter"):
        PlanSpec(start_ms=0, end_ms=1, jitter=0.9)


def test_fleets_cover_kinds_models_and_formats_with_unique_ids() -> None:
    spec = FleetSpec(sites=("aarhus-c", "dokk1", "viby", "skejby", "harlev"), devices_per_site=100, seed=1)
    devices = build_fleet(spec)
    assert len(devices) == 500
    assert len({d.id for d in devices}) == 500
    euis = [d.dev_eui for d in devices if d.dev_eui]
    assert len(euis) == len(set(euis))
    assert {d.model for d in devices} == {"native", *MODELS}
    assert {d.format for d in devices} == set(FORMATS)
    assert {d.kind for d in devices if d.model == "native"} == set(load_catalog().kinds)
    assert {d.site for d in devices} == set(spec.sites)
    assert all(d.id.startswith("esp8266-") for d in devices if d.format == "sensor_community")
    assert all(d.format in ("chirpstack", "tts") for d in devices if d.model != "native")
    assert build_fleet(spec) == devices


def test_a_model_that_cannot_speak_the_format_asked_for_is_refused_with_the_fix() -> None:
    with pytest.raises(FleetError, match="give --format with one of chirpstack, tts"):
        build_fleet(FleetSpec(sites=("viby",), devices_per_site=1, seed=1, models=("elsys/ers",), formats=("native",)))
    with pytest.raises(FleetError, match="unknown model"):
        build_fleet(FleetSpec(sites=("viby",), devices_per_site=1, seed=1, models=("elsys/nope",)))


def test_kinds_choose_models_and_air_quality_stations_speak_sensor_community() -> None:
    devices = build_fleet(
        FleetSpec(
            sites=("dokk1",), devices_per_site=12, seed=2, kinds=("air_quality",), formats=("sensor_community", "tts")
        )
    )
    assert {d.kind for d in devices} == {"air_quality"}
    stations = [d for d in devices if d.format == "sensor_community"]
    assert stations
    assert all({"pm2_5", "pm10", "rssi"} <= set(d.quantities) for d in stations)
    lorawan = {d.model for d in devices if d.format == "tts"}
    assert lorawan <= {m.id for m in MODELS.values() if m.kind == "air_quality"}


def test_dry_run_lines_are_json_with_the_outcome() -> None:
    _, plan = make_plan(seed=4, per_site=3, reports=4, faults=FaultRates({FaultKind.MALFORMED_JSON: 0.3}))
    lines = [json.loads(stream_line(m)) for m in plan.messages()]
    assert any(line.get("reject") == "malformed_json" for line in lines)
    assert all("stores" in line or "reject" in line for line in lines)
