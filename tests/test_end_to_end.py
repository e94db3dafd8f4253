"""Acceptance of the walking skeleton: real MQTT client -> Mosquitto -> `suitcase ingest` -> InfluxDB.

10,000 native messages from 100 devices, half with a device timestamp and half without, must all be in
the database afterwards with their exact values: through the v1 API into InfluxDB 1.x, and through the
v2 API (influxdb-client) into VictoriaMetrics, a real server that speaks InfluxDB's v2 write API.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from iot_suitcase.servers import InfluxDB, Mosquitto, VictoriaMetrics
from tests.helpers import IngestProcess, publish_all, unique, wait_until

Sent = tuple[str, bytes, str, int, float, float, int | None]
Key = tuple[str, str, float, int | None]

DEVICES = 100
PER_DEVICE = 100


def fleet_messages(root: str, prefix: str) -> Iterator[Sent]:
    """(topic, payload, device, k, temperature, humidity, time_ns or None) for each message.

    Values are unique per device (k is the message number), so a device's values identify its messages.
    """
    base = datetime.now(UTC) - timedelta(hours=1)
    for k in range(PER_DEVICE):
        for d in range(DEVICES):
            device = f"{prefix}{d:03d}"
            temperature = round(-20 + k * 0.25, 2)
            humidity = round(k * 0.5, 1)
            body: dict[str, object] = {"readings": {"temperature": temperature, "humidity": humidity}}
            stamp = None
            if (k + d) % 2 == 0:
                moment = base + timedelta(seconds=k, milliseconds=d)
                body["time"] = moment.isoformat().replace("+00:00", "Z")
                stamp = int(moment.timestamp()) * 10**9 + moment.microsecond * 1000
            yield f"{root}/{device}/up", json.dumps(body).encode(), device, k, temperature, humidity, stamp


def expected_points(messages: list[Sent]) -> Counter[Key]:
    expected: Counter[Key] = Counter()
    for _topic, _payload, device, _k, temperature, humidity, stamp in messages:
        expected[("temperature", device, temperature, stamp)] += 1
        expected[("humidity", device, humidity, stamp)] += 1
    return expected


def observed_key(measurement: str, device: str, value: float, time_ns: int, stamped: set[Key]) -> Key:
    """Timestamp-less readings got the receive time, unknown to the test: compare them by value only."""
    key = (measurement, device, value, time_ns)
    return key if key in stamped else (measurement, device, value, None)


def run_ingest(tmp_path: Path, mosquitto: Mosquitto, root: str, **influx: str) -> IngestProcess:
    settings = {
        "mqtt_host": mosquitto.host,
        "mqtt_port": str(mosquitto.port),
        "mqtt_client_id": unique("suitcase-ingest-"),
        "topic_root": root,
        "batch_interval_s": "0.2",
        **influx,
    }
    return IngestProcess(tmp_path / "ingest.log", settings).start()


@pytest.mark.slow
def test_ten_thousand_messages_arrive_exactly_v1_influxdb(
    tmp_path: Path, mosquitto: Mosquitto, influxdb: InfluxDB, influx_db: str
) -> None:
    root = unique("e2e")
    messages = list(fleet_messages(root, "dev-"))
    ingest = run_ingest(tmp_path, mosquitto, root, influx_url=influxdb.url, influx_database=influx_db)
    try:
        assert publish_all(mosquitto.host, mosquitto.port, ((m[0], m[1]) for m in messages)) == 10_000
        wait_until(lambda: influxdb.count(influx_db) >= 20_000, 90, "20,000 points in InfluxDB")
    finally:
        assert ingest.terminate() == 0, ingest.log()

    expected = expected_points(messages)
    stamped = {key for key in expected if key[3] is not None}
    observed: Counter[Key] = Counter()
    for measurement in ("temperature", "humidity"):
        for row in influxdb.points(influx_db, measurement):
            observed[observed_key(measurement, row["device"], row["value"], row["time"], stamped)] += 1
    assert influxdb.count(influx_db) == 20_000
    assert observed == expected


@pytest.mark.slow
def test_ten_thousand_messages_arrive_exactly_v2_victoriametrics(
    tmp_path: Path, mosquitto: Mosquitto, victoria: VictoriaMetrics
) -> None:
    root = unique("e2e")
    prefix = unique("vm") + "-"
    messages = list(fleet_messages(root, prefix))
    match = f'{{__name__=~"temperature_value|humidity_value", device=~"{prefix}.*"}}'
    ingest = run_ingest(
        tmp_path,
        mosquitto,
        root,
        influx_flavour="v2",
        influx_url=victoria.url,
        influx_org="city",
        influx_bucket="suitcase",
        influx_token=unique("token-"),  # VictoriaMetrics does not check it
    )
    try:
        assert publish_all(mosquitto.host, mosquitto.port, ((m[0], m[1]) for m in messages)) == 10_000

        def all_there() -> bool:
            victoria.force_flush()
            return sum(len(s["values"]) for s in victoria.export(match)) >= 20_000

        wait_until(all_there, 90, "20,000 samples in VictoriaMetrics", interval=1.0)
    finally:
        assert ingest.terminate() == 0, ingest.log()

    # VictoriaMetrics keeps millisecond timestamps: compare device times at that precision.
    expected = Counter(
        {(q, d, v, None if t is None else t // 10**6): n for (q, d, v, t), n in expected_points(messages).items()}
    )
    stamped = {key for key in expected if key[3] is not None}
    observed: Counter[Key] = Counter()
    for series in victoria.export(match):
        measurement = series["metric"]["__name__"].removesuffix("_value")
        for value, stamp in zip(series["values"], series["timestamps"], strict=True):
            observed[observed_key(measurement, series["metric"]["device"], value, stamp, stamped)] += 1
    assert sum(observed.values()) == 20_000
    assert observed == expected
