"""Every panel's and alert rule's InfluxQL, substituted as Grafana would, against a real InfluxDB 1.6.

The database holds a simulated fleet (dashboards/conftest.py) written in the ingest service's schema:
every quantity of every registered kind plus battery and radio figures for six hours, one uplink point
per message, some rejects, and two ingest workers' pipeline figures. One device went silent two hours
ago, one has a low battery, one a low battery voltage, and the air quality device breathes bad air.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from iot_suitcase.dashboards.conftest import SILENT
from iot_suitcase.dashboards.generate import HEALTH_UID, OVERVIEW_UID, PIPELINE_UID
from iot_suitcase.dashboards.provisioning import MIN_INTERVAL, Bundle, to_json
from iot_suitcase.dashboards.testing_macros import ALL, Variable, interpolate, panel_interval_ms, parse_duration_ms
from iot_suitcase.devices.catalog import load_catalog
from iot_suitcase.devices.registry import QUARANTINE_SITE, Registry
from iot_suitcase.servers import InfluxDB

STEP = timedelta(minutes=5)
HOURS = 6
VALUES = {
    "temperature": 21.5, "humidity": 45.0, "pressure": 1013.0, "co2": 1500.0, "tvoc": 200.0, "pm1": 10.0,
    "pm2_5": 40.0, "pm4": 35.0, "pm10": 30.0, "no2": 20.0, "o3": 50.0, "noise_laeq": 60.0, "noise_lamax": 72.0,
    "distance": 1500.0, "fill_level": 40.0, "water_level": 1.2, "water_leak_level": 0.0, "water_leak": 0.0,
    "motion": 3.0, "people_count": 12.0, "bike_count": 5.0, "occupancy": 1.0, "door_openings": 2.0,
    "door_openings_total": 2000.0, "external_temperature": 8.5, "door_open": 0.0, "wind_speed": 4.0,
    "wind_direction": 270.0, "rain": 0.4, "illuminance": 300.0,
    "voltage": 230.0, "current": 5.0, "power": 1150.0, "energy": 1234.5, "battery": 80.0,
    "battery_voltage": 3.6, "rssi": -95.0, "snr": 7.5,
}  # fmt: skip
OVERRIDES = {("c-counter-1", "battery"): 10.0, ("dokk1-level-1", "battery_voltage"): 2.5}
HEALTH = ("battery", "battery_voltage", "rssi", "snr")
WORKERS = ("w1", "w2")


def ns(moment: datetime) -> int:
    return int(moment.timestamp()) * 1_000_000_000 + moment.microsecond * 1000


def fleet_lines(registry: Registry, now: datetime) -> list[str]:
    """The ingest service's schema, for the registry's devices (quarantine excluded, as nobody knows them)."""
    catalog = load_catalog()
    lines = []
    for device in registry.devices:
        if device.site == QUARANTINE_SITE or device.kind is None:
            continue
        quantities = [*catalog.kinds[device.kind].quantities, *HEALTH]
        tags = f"device={device.id},site={device.site},kind={device.kind},model={device.model}"
        steps = range(HOURS * 12)
        for step in steps:
            moment = now - step * STEP - timedelta(seconds=30)
            if device.id == SILENT and moment > now - timedelta(hours=2):
                continue
            for quantity in dict.fromkeys(quantities):
                value = OVERRIDES.get((device.id, quantity), VALUES[quantity]) * (1 - (step % 3) * 0.001)
                lines.append(f"{quantity},{tags} value={value} {ns(moment)}")
            lines.append(
                f"suitcase_uplinks,device={device.id},site={device.site},interval_s={device.interval_s},format=native "
                f"readings={len(quantities)},bytes=120 {ns(moment)}"
            )
    lines += device_lines(registry, now - timedelta(hours=1))
    for minute in range(0, HOURS * 60, 7):
        moment = now - timedelta(minutes=minute)
        lines.append(f"suitcase_rejects,device=harbour-air.1,reason=out_of_range,site=harbour count=1 {ns(moment)}")
        lines.append(f"suitcase_rejects,device=-,reason=malformed_json,site=- count=1 {ns(moment)}")
    for tick in range(360):
        moment = now - timedelta(seconds=10 * (360 - tick))
        for worker in WORKERS:
            lines.append(
                f"suitcase_pipeline,worker={worker} received={tick * 5},acked={tick * 5},stored_readings={tick * 20},"
                f"rejected={tick // 10},duplicates={tick // 50},backlog_records={tick % 7},"
                f"backlog_bytes={(tick % 7) * 300},write_latency_ms={5 + tick % 4},influx_ok=1 {ns(moment)}"
            )
    return lines


def device_lines(registry: Registry, moment: datetime) -> list[str]:
    """``suitcase_devices`` as the ingest service publishes the registry (ingest/sink/devicemeta.py)."""
    lines = []
    for device in registry.devices:
        if device.site == QUARANTINE_SITE:
            continue
        lat, lon = (0.0, 0.0) if device.location is None else (device.location.lat, device.location.lon)
        name = device.name.replace("\\", "\\\\").replace('"', '\\"')
        lines.append(
            f'suitcase_devices,device={device.id} kind="{device.kind or "-"}",model="{device.model}",name="{name}",'
            f'site="{device.site}",interval_s={device.interval_s},lat={lat},lon={lon},'
            f"located={int(device.location is not None)},registered=1 {ns(moment)}"
        )
    return lines


@pytest.fixture
def city(influxdb: InfluxDB, influx_db: str, registry: Registry) -> datetime:
    now = datetime.now(UTC)
    lines = fleet_lines(registry, now)
    for start in range(0, len(lines), 5000):
        influxdb.write(influx_db, lines[start : start + 5000])
    return now


def all_selected() -> dict[str, Variable]:
    return {name: Variable(name, ALL, all_value=".*") for name in ("site", "device", "worker")}


def influx_targets(board: dict[str, Any]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    return [
        (panel, target)
        for panel in board["panels"]
        for target in panel.get("targets", [])
        if target["datasource"].get("type") == "influxdb"
    ]


def run_target(
    influxdb: InfluxDB,
    db: str,
    *,
    board: dict[str, Any],
    panel: dict[str, Any],
    target: dict[str, Any],
    now: datetime,
    variables: dict[str, Variable],
) -> list[dict[str, Any]]:
    """The target as Grafana would send it for the dashboard's default range (or the panel's own)."""
    span = panel.get("timeFrom") or board["time"]["from"].removeprefix("now-")
    start = now - timedelta(milliseconds=parse_duration_ms(span))
    interval = panel_interval_ms(
        start,
        now,
        max_data_points=int(panel.get("maxDataPoints", 1000)),
        min_interval=panel.get("interval", MIN_INTERVAL),
    )
    query = interpolate(target["query"], start=start, end=now, interval_ms=interval, variables=variables)
    assert "$" not in query.replace("$/", ""), f"unsubstituted macro in {query}"
    result = influxdb.query(query, db)  # raises QueryError on any error
    return [series for statement in result["results"] for series in statement.get("series", [])]


_FROM = re.compile(r'FROM (?:"[^"]+"\.)?"([^"]+)"')


def check_series(query: str, series: list[dict[str, Any]]) -> None:
    """The series are of the measurement the query names, and readings lie in their quantity's range."""
    measurement = _FROM.search(query)
    assert measurement is not None
    assert {s["name"] for s in series} == {measurement.group(1)}, query
    quantity = load_catalog().quantities.get(measurement.group(1))
    if quantity is None or '"value"' not in query:
        return
    values = [row[1] for s in series for row in s["values"] if row[1] is not None]
    assert values, query
    assert all(quantity.min <= value <= quantity.max for value in values), query


def test_every_panel_query_returns_data_of_its_quantity(
    influxdb: InfluxDB, influx_db: str, city: datetime, bundle: Bundle
) -> None:
    checked = 0
    for board in bundle.dashboards:
        for panel, target in influx_targets(board):
            series = run_target(
                influxdb, influx_db, board=board, panel=panel, target=target, now=city, variables=all_selected()
            )
            assert series, f"{board['uid']}: panel {panel['title']!r} is empty:\n{target['query']}"
            check_series(target["query"], series)
            checked += 1
    assert checked > 60


def test_variable_queries_list_the_fleet(
    influxdb: InfluxDB, influx_db: str, city: datetime, bundle: Bundle, registry: Registry
) -> None:
    board = bundle.dashboard(OVERVIEW_UID)
    queries = {variable["name"]: variable["query"] for variable in board["templating"]["list"]}
    now = city

    def values(name: str, variables: dict[str, Variable]) -> set[str]:
        query = interpolate(
            queries[name], start=now - timedelta(hours=1), end=now, interval_ms=10_000, variables=variables
        )
        return {row[1] for s in influxdb.query(query, influx_db)["results"][0]["series"] for row in s["values"]}

    assert values("site", {}) == {"harbour", "dokk1", "aarhus-c"}
    harbour = {"site": Variable("site", ["harbour"], all_value=".*")}
    assert values("device", harbour) == {"harbour-air.1", "harbour-noise-1"}
    assert values("device", all_selected()) == {d.id for d in registry.devices if d.site != QUARANTINE_SITE}


def test_a_chosen_site_and_device_narrow_every_panel(
    influxdb: InfluxDB, influx_db: str, city: datetime, bundle: Bundle
) -> None:
    # "harbour-air.1" has a dot: Grafana's regex escaping must match it exactly, and not this decoy.
    decoy = ns(city - timedelta(minutes=1))
    influxdb.write(
        influx_db,
        [f"{q},device=harbour-airX1,site=harbour,kind=air_quality,model=native value=1 {decoy}" for q in VALUES],
    )
    chosen = {
        "site": Variable("site", ["harbour"], all_value=".*"),
        "device": Variable("device", ["harbour-air.1"], all_value=".*"),
        "worker": Variable("worker", ALL, all_value=".*"),
    }
    board = bundle.dashboard("suitcase-kind-air_quality")
    for panel, target in influx_targets(board):
        series = run_target(influxdb, influx_db, board=board, panel=panel, target=target, now=city, variables=chosen)
        assert series, panel["title"]
        assert {s["tags"]["device"] for s in series} == {"harbour-air.1"}
    health = bundle.dashboard(HEALTH_UID)
    last_seen = next(p for p in health["panels"] if p["title"] == "Last seen")
    series = run_target(
        influxdb, influx_db, board=health, panel=last_seen, target=last_seen["targets"][0], now=city, variables=chosen
    )
    assert [(s["tags"]["device"], s["tags"]["site"]) for s in series] == [("harbour-air.1", "harbour")]


def test_several_sites_at_once(influxdb: InfluxDB, influx_db: str, city: datetime, bundle: Bundle) -> None:
    chosen = {**all_selected(), "site": Variable("site", ["harbour", "dokk1"], all_value=".*")}
    board = bundle.dashboard(HEALTH_UID)
    panel = next(p for p in board["panels"] if p["title"] == "Messages per minute")
    series = run_target(
        influxdb, influx_db, board=board, panel=panel, target=panel["targets"][0], now=city, variables=chosen
    )
    assert {s["tags"]["device"] for s in series} == {
        "harbour-air.1",
        "harbour-noise-1",
        "dokk1-climate-1",
        "dokk1-level-1",
    }


def test_silent_devices_table_lists_exactly_the_silent_device(
    influxdb: InfluxDB, influx_db: str, city: datetime, bundle: Bundle
) -> None:
    board = bundle.dashboard(HEALTH_UID)
    panel = next(p for p in board["panels"] if p["title"] == "Silent devices")
    series = run_target(
        influxdb, influx_db, board=board, panel=panel, target=panel["targets"][0], now=city, variables=all_selected()
    )
    assert [(s["tags"]["device"], s["values"][0][1:]) for s in series] == [(SILENT, [0, 300])]


def test_map_state_counts_uplinks_per_device(
    influxdb: InfluxDB, influx_db: str, city: datetime, bundle: Bundle
) -> None:
    board = bundle.dashboard(OVERVIEW_UID)
    panel = next(p for p in board["panels"] if p["type"] == "geomap")
    target = next(t for t in panel["targets"] if t["refId"] == "state")
    series = run_target(
        influxdb, influx_db, board=board, panel=panel, target=target, now=city, variables=all_selected()
    )
    assert all(s["columns"] == ["time", "uplinks"] for s in series)
    uplinks = {s["tags"]["device"]: s["values"][0][1] for s in series}
    assert uplinks[SILENT] == 0
    assert uplinks["harbour-air.1"] == 3  # 5-minute uplinks within 15 minutes
    assert all(count > 0 for device, count in uplinks.items() if device != SILENT)


def test_the_map_reads_located_registered_devices_with_their_names(
    influxdb: InfluxDB, influx_db: str, city: datetime, bundle: Bundle, registry: Registry
) -> None:
    board = bundle.dashboard(OVERVIEW_UID)
    panel = next(p for p in board["panels"] if p["type"] == "geomap")
    devices = next(t for t in panel["targets"] if 'FROM "suitcase_devices"' in t["query"])

    def shown(variables: dict[str, Variable]) -> dict[str, dict[str, Any]]:
        series = run_target(
            influxdb, influx_db, board=board, panel=panel, target=devices, now=city, variables=variables
        )
        return {s["tags"]["device"]: dict(zip(s["columns"], s["values"][0], strict=True)) for s in series}

    located = {d.id for d in registry.devices if d.location is not None and d.site != QUARANTINE_SITE}
    assert set(shown(all_selected())) == located
    air = shown(all_selected())["harbour-air.1"]
    assert (air["name"], air["site"], air["kind"], air["lat"], air["lon"]) == (
        "Harbour air, quay 2",
        "harbour",
        "air_quality",
        56.1534,
        10.214,
    )
    assert set(shown({**all_selected(), "site": Variable("site", ["harbour"], all_value=".*")})) == {
        "harbour-air.1",
        "harbour-noise-1",
    }
    # Moved to another site, then removed from the registry: the newest point of each field counts.
    later = ns(city - timedelta(minutes=10))
    influxdb.write(
        influx_db,
        [
            f'suitcase_devices,device=harbour-noise-1 kind="noise",model="m",name="Moved",site="dokk1",'
            f"interval_s=900,lat=56.2,lon=10.3,located=1,registered=1 {later}",
            f"suitcase_devices,device=harbour-air.1 registered=0 {later}",
        ],
    )
    now_shown = shown(all_selected())
    assert "harbour-air.1" not in now_shown
    assert (now_shown["harbour-noise-1"]["site"], now_shown["harbour-noise-1"]["name"]) == ("dokk1", "Moved")


def test_pipeline_rates(influxdb: InfluxDB, influx_db: str, city: datetime, bundle: Bundle) -> None:
    board = bundle.dashboard(PIPELINE_UID)
    panel = next(p for p in board["panels"] if p["title"] == "Readings stored per second")
    series = run_target(
        influxdb, influx_db, board=board, panel=panel, target=panel["targets"][0], now=city, variables=all_selected()
    )
    assert {s["tags"]["worker"] for s in series} == set(WORKERS)
    for one in series:
        rates = [row[1] for row in one["values"] if row[1] is not None]
        assert len(rates) > 100
        # 20 readings every 10 s; the newest bucket may hold one report only, so it may show half the rate.
        assert all(rate == pytest.approx(2.0) for rate in rates[:-1]), rates
        assert 0 < rates[-1] <= 2.0


def firing(influxdb: InfluxDB, db: str, rule: dict[str, Any], now: datetime) -> tuple[int, set[str]]:
    """Evaluate A -> Reduce(last, drop NaN) -> Threshold as Grafana does; (series count, devices firing)."""
    data = {query["refId"]: query for query in rule["data"]}
    window = data["A"]["relativeTimeRange"]["from"]
    start = now - timedelta(seconds=window)
    query = interpolate(data["A"]["model"]["query"], start=start, end=now, interval_ms=1000)
    result = influxdb.query(query, db)
    series = [s for statement in result["results"] for s in statement.get("series", [])]
    assert data["B"]["model"]["type"] == "reduce"
    assert data["B"]["model"]["reducer"] == "last"
    evaluator = data["C"]["model"]["conditions"][0]["evaluator"]
    limit = evaluator["params"][0]
    fired = set()
    for s in series:
        values = [row[1] for row in s["values"] if row[1] is not None]
        if values and (values[-1] > limit if evaluator["type"] == "gt" else values[-1] < limit):
            fired.add(s["tags"]["device"])
    return len(series), fired


def test_alert_rules_run_and_fire_for_the_right_devices(
    influxdb: InfluxDB, influx_db: str, city: datetime, bundle: Bundle
) -> None:
    rules = {rule["uid"]: rule for group in bundle.alerts.groups for rule in to_json(group)["rules"]}
    results = {uid: firing(influxdb, influx_db, rule, city) for uid, rule in rules.items()}
    for uid, (count, _) in results.items():
        assert count > 0, f"{uid}: the query returned nothing"
    fired = {uid: devices for uid, (_, devices) in results.items()}
    assert fired["suitcase-device-silent"] == {SILENT}
    assert fired["suitcase-battery-low"] == {"c-counter-1"}
    assert fired["suitcase-battery-voltage-dragino-ldds75"] == {"dokk1-level-1"}
    assert fired["suitcase-co2-uba-1000"] == {"harbour-air.1"}
    assert fired["suitcase-co2-uba-2000"] == set()
    assert fired["suitcase-pm2_5-who-24h"] == {"harbour-air.1"}
    assert fired["suitcase-pm10-who-24h"] == set()
    assert fired["suitcase-no2-eu-1h"] == set()


def grafana_frames(result: dict[str, Any]) -> list[tuple[str, tuple[tuple[str, str], ...]]]:
    """An InfluxQL answer as Grafana's InfluxQL backend turns it into data frames: one frame per series and
    value column (each field of a series its own frame), named ``measurement.column``, labelled with the
    series' tags. What the alert evaluator receives; (name, labels) of each frame."""
    frames = []
    for statement in result["results"]:
        for series in statement.get("series", []):
            labels = tuple(sorted((series.get("tags") or {}).items()))
            frames += [(f"{series['name']}.{column}", labels) for column in series["columns"][1:]]
    return frames


def test_every_alert_rule_query_gives_one_frame_per_label_set(
    influxdb: InfluxDB, influx_db: str, city: datetime, bundle: Bundle
) -> None:
    """#17 point 4: Grafana's rule evaluator refuses frames it cannot tell apart by their labels ("frame cannot
    uniquely be identified by its labels") and the rule sits in Error; a query of two fields grouped by tags
    makes two frames with the same labels for every device."""
    wrong = {}
    for group in bundle.alerts.groups:
        for rule in to_json(group)["rules"]:
            query = next(q for q in rule["data"] if q["refId"] == "A")
            start = city - timedelta(seconds=query["relativeTimeRange"]["from"])
            answer = influxdb.query(
                interpolate(query["model"]["query"], start=start, end=city, interval_ms=1000), influx_db
            )
            labels = [frame_labels for _name, frame_labels in grafana_frames(answer)]
            assert labels, f"{rule['uid']}: no frames"
            if len(set(labels)) != len(labels):
                wrong[rule["uid"]] = sorted({name for name, _labels in grafana_frames(answer)})
    assert not wrong, f"rules whose frames share labels (Grafana: Error): {wrong}"
