"""SenML, sensor.community and single-value messages go through the real service into InfluxDB, canonical.

Real Mosquitto, real `suitcase ingest`, real InfluxDB: each format's topic is subscribed, each payload is
decoded, and the points land with the device from the topic or payload, in the catalog's units (pressure
sent in Pa is stored in hPa) and with SenML's own timestamps.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from iot_suitcase.servers import InfluxDB, Mosquitto
from tests.helpers import IngestProcess, publish_all, unique, wait_until

AIRROHR = (
    Path(__file__).parent / "sensor_community" / "testdata" / "macbre-airrohr-prometheus-exporter.json"
).read_bytes()


def test_three_formats_land_in_influxdb_in_canonical_units(
    tmp_path: Path, mosquitto: Mosquitto, influxdb: InfluxDB, influx_db: str
) -> None:
    root = unique("fmt")
    measured = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    senml = [
        {"bn": "urn:dev:ow:10e2073a01080063:", "bt": measured.timestamp(), "n": "temperature", "u": "Cel", "v": 23.1},
        {"n": "pressure", "u": "Pa", "v": 101325},
        {"n": "current", "u": "A", "t": -5, "v": 1.2},
    ]
    messages = [
        (f"{root}/senml-1/senml", json.dumps(senml).encode()),
        (f"{root}/esp8266-12331981/airrohr", AIRROHR),
        (f"{root}/garden-1/temperature", b"21.5"),
        (f"{root}/garden-1/pressure/Pa", b"101325\n"),
    ]
    settings = {
        "mqtt_host": mosquitto.host,
        "mqtt_port": str(mosquitto.port),
        "mqtt_client_id": unique("suitcase-ingest-"),
        "topic_root": root,
        "influx_url": influxdb.url,
        "influx_database": influx_db,
        "batch_interval_s": "0.1",
    }
    ingest = IngestProcess(tmp_path / "ingest.log", settings).start()
    try:
        publish_all(mosquitto.host, mosquitto.port, messages)
        wait_until(lambda: influxdb.count(influx_db) >= 11, 30, "the readings of all three formats")
    finally:
        assert ingest.terminate() == 0, ingest.log()

    stored: dict[str, dict[str, float]] = defaultdict(dict)
    times: dict[tuple[str, str], int] = {}
    for measurement in (m for m in influxdb.measurements(influx_db) if not m.startswith("suitcase_")):
        for point in influxdb.points(influx_db, measurement):
            assert point["device"] not in stored[measurement], f"two {measurement} points of {point['device']}"
            stored[measurement][point["device"]] = point["value"]
            times[(measurement, point["device"])] = point["time"]

    assert stored == {
        "temperature": {"senml-1": pytest.approx(23.1), "esp8266-12331981": pytest.approx(20.47), "garden-1": 21.5},
        "pressure": {
            "senml-1": pytest.approx(1013.25),
            "esp8266-12331981": pytest.approx(1006.1325),
            "garden-1": pytest.approx(1013.25),
        },
        "current": {"senml-1": pytest.approx(1.2)},
        "pm10": {"esp8266-12331981": pytest.approx(0.4)},
        "pm2_5": {"esp8266-12331981": pytest.approx(0.2)},
        "humidity": {"esp8266-12331981": pytest.approx(69.02)},
        "rssi": {"esp8266-12331981": -94.0},
    }
    measured_ns = int(measured.timestamp()) * 10**9
    assert times[("temperature", "senml-1")] == measured_ns
    assert times[("pressure", "senml-1")] == measured_ns
    assert times[("current", "senml-1")] == measured_ns - 5 * 10**9

    log = ingest.log()
    assert "Traceback" not in log
    stopped = log.split("stopped ")[-1]
    assert "received=4 acked=4 " in stopped
    assert "stored_readings=11 rejected=0 " in stopped
