"""LoRaWAN network servers end to end: ChirpStack v4 and The Things Stack v3 uplinks, published by a real
MQTT client on the topics those servers use, are stored in a real InfluxDB as canonical readings.

Covered: a network server's decoded object mapped through the field table, raw bytes decoded by the
project's codec for a model named in SUITCASE_DEVICE_MODELS_FILE (ChirpStack) or in the uplink's
version_ids (The Things Stack), both TTS topic schemes, nanosecond times, the best gateway's RSSI/SNR,
and a rejected uplink that does not stop the service.
"""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from iot_suitcase.devices.codecs import MODELS
from iot_suitcase.servers import InfluxDB, Mosquitto
from tests.helpers import IngestProcess, publish_all, unique, wait_until

ELSYS = "elsys/ers-co2"
# Elsys ERS CO2 uplink (ThingsBoard's ChirpStack/TTS samples): 22.6 degC, 41 %, 39 lux, motion 6,
# 776 ppm CO2, VDD 3426 mV
ELSYS_BYTES = bytes.fromhex("0100e202290400270506060308070d62")
ELSYS_READINGS = {
    "temperature": 22.6,
    "humidity": 41.0,
    "illuminance": 39.0,
    "motion": 6.0,
    "co2": 776.0,
    "battery_voltage": 3.426,
}


def nanosecond_time(moment: datetime, nanos: int, offset_hours: int) -> tuple[str, int]:
    """An RFC 3339 time with nine fractional digits in a local offset, and the epoch ns InfluxDB keeps.

    Python keeps microseconds, so the stored time is the given one with the last three digits cut.
    """
    local = moment.astimezone(UTC).replace(microsecond=0) + timedelta(hours=offset_hours)
    sign = "+" if offset_hours >= 0 else "-"
    text = f"{local.strftime('%Y-%m-%dT%H:%M:%S')}.{nanos:09d}{sign}{abs(offset_hours):02d}:00"
    seconds = int(moment.astimezone(UTC).replace(microsecond=0).timestamp())
    return text, seconds * 10**9 + nanos // 1000 * 1000


def chirpstack_event(
    app: str, dev_eui: str, name: str, *, time: str, payload: bytes, fport: int, obj: dict[str, Any] | None = None
) -> dict[str, Any]:
    event: dict[str, Any] = {
        "deduplicationId": str(uuid.uuid4()),
        "time": time,
        "deviceInfo": {
            "tenantId": "52f14cd4-c6f1-4fbd-8f87-4025e1d49242",
            "tenantName": "ChirpStack",
            "applicationId": app,
            "applicationName": "city sensors",
            "deviceProfileName": "default",
            "deviceName": name,
            "devEui": dev_eui,
            "tags": {},
        },
        "devAddr": "00189440",
        "adr": True,
        "dr": 5,
        "fCnt": 17,
        "fPort": fport,
        "data": base64.b64encode(payload).decode(),
        "rxInfo": [
            {"gatewayId": "0016c001f153a14c", "uplinkId": 1, "rssi": -101, "snr": -4.5},
            {"gatewayId": "0016c001f153a14d", "uplinkId": 2, "rssi": -77, "snr": 6.25},
        ],
        "txInfo": {"frequency": 868100000, "modulation": {"lora": {"bandwidth": 125000, "spreadingFactor": 7}}},
    }
    if obj is not None:
        event["object"] = obj
    return event


def tts_uplink(
    app: str, device_id: str, dev_eui: str, *, received_at: str, payload: bytes, extra: dict[str, Any]
) -> dict[str, Any]:
    return {
        "end_device_ids": {
            "device_id": device_id,
            "application_ids": {"application_id": app},
            "dev_eui": dev_eui.upper(),
            "dev_addr": "260BDF71",
        },
        "correlation_ids": ["as:up:01K9ER8B2712V0HV1YBNRF35ZY"],
        # the Application Server's receive time, later than the Network Server's that the reading takes
        "received_at": "2099-01-01T00:00:00Z",
        "uplink_message": {
            "f_port": 5,
            "f_cnt": 25,
            "frm_payload": base64.b64encode(payload).decode(),
            "rx_metadata": [{"gateway_ids": {"gateway_id": "gw-1"}, "rssi": -64.5, "channel_rssi": -64.5, "snr": 9}],
            "settings": {"data_rate": {"lora": {"bandwidth": 125000, "spreading_factor": 7}}},
            "received_at": received_at,
            **extra,
        },
    }


@pytest.mark.skipif(ELSYS not in MODELS, reason="the raw-bytes cases need the Elsys codec")
def test_chirpstack_and_tts_uplinks_are_stored_as_canonical_readings(
    tmp_path: Path, mosquitto: Mosquitto, influxdb: InfluxDB, influx_db: str
) -> None:
    run = uuid.uuid4().hex[:8]
    app = f"app-{run}"
    base = datetime.now(UTC) - timedelta(minutes=10)
    eui_object, eui_raw, eui_tts = (f"70b3d5{run}{n:02x}" for n in range(3))
    models = tmp_path / "models.toml"
    models.write_text(f'[models]\n"{eui_raw}" = "{ELSYS}"\n')

    t1, ns1 = nanosecond_time(base, 123_456_789, 2)
    t2, ns2 = nanosecond_time(base + timedelta(seconds=1), 5_000_999, -5)
    t3, ns3 = nanosecond_time(base + timedelta(seconds=2), 987_654_321, 0)
    t4, ns4 = nanosecond_time(base + timedelta(seconds=3), 1_001, 0)
    t3, t4 = t3.replace("+00:00", "Z"), t4.replace("+00:00", "Z")
    cs_object = chirpstack_event(
        app,
        eui_object,
        f"garden-{run}",
        time=t1,
        payload=b"\x01",
        fport=2,
        obj={"TempC_SHT": 21.5, "Hum_SHT": 40, "Ext": "x"},
    )
    cs_raw = chirpstack_event(app, eui_raw, "Device name", time=t2, payload=ELSYS_BYTES, fport=5)
    tts_decoded = tts_uplink(
        app,
        f"lht-{run}",
        eui_tts,
        received_at=t3,
        payload=b"\x01",
        extra={"decoded_payload": {"temperature": 18.25, "BatV": 3.1}},
    )
    tts_raw = tts_uplink(
        app,
        f"ers-{run}",
        f"70b3d5{run}ff",
        received_at=t4,
        payload=ELSYS_BYTES,
        extra={"version_ids": {"brand_id": "elsys", "model_id": "ers-co2"}},
    )
    mismatched = chirpstack_event(
        app, eui_object, f"garden-{run}", time=t1, payload=b"\x01", fport=2, obj={"temperature": 1}
    )
    messages = [
        (f"application/{app}/device/{eui_object}/event/up", cs_object),
        (f"application/{app}/device/{eui_raw}/event/up", cs_raw),
        (f"v3/{app}@city/devices/lht-{run}/up", tts_decoded),
        (f"v3/{app}/devices/ers-{run}/up", tts_raw),
        (f"application/{app}/device/{eui_raw}/event/up", mismatched),
    ]

    settings = {
        "mqtt_host": mosquitto.host,
        "mqtt_port": str(mosquitto.port),
        "mqtt_client_id": unique("suitcase-ingest-"),
        "topic_root": unique("lorawan"),
        "influx_url": influxdb.url,
        "influx_database": influx_db,
        "batch_interval_s": "0.1",
        "device_models_file": str(models),
    }
    ingest = IngestProcess(tmp_path / "ingest.log", settings).start()
    try:
        publish_all(mosquitto.host, mosquitto.port, [(topic, json.dumps(body).encode()) for topic, body in messages])
        wait_until(lambda: influxdb.count(influx_db) >= 24, 30, "24 readings in InfluxDB")
    finally:
        assert ingest.terminate() == 0, ingest.log()

    stored = {
        (measurement, row["device"], row["time"]): row["value"]
        for measurement in influxdb.measurements(influx_db)
        if not measurement.startswith("suitcase_")
        for row in influxdb.points(influx_db, measurement)
    }
    expected: dict[tuple[str, str, int], float] = {
        ("temperature", f"garden-{run}", ns1): 21.5,
        ("humidity", f"garden-{run}", ns1): 40.0,
        ("rssi", f"garden-{run}", ns1): -77.0,
        ("snr", f"garden-{run}", ns1): 6.25,
        ("temperature", f"lht-{run}", ns3): 18.25,
        ("battery_voltage", f"lht-{run}", ns3): 3.1,
        ("rssi", f"lht-{run}", ns3): -64.5,
        ("snr", f"lht-{run}", ns3): 9.0,
    }
    for device, stamp in ((f"eui-{eui_raw}", ns2), (f"ers-{run}", ns4)):
        expected.update({(quantity, device, stamp): value for quantity, value in ELSYS_READINGS.items()})
    expected[("rssi", f"eui-{eui_raw}", ns2)] = -77.0
    expected[("snr", f"eui-{eui_raw}", ns2)] = 6.25
    expected[("rssi", f"ers-{run}", ns4)] = -64.5
    expected[("snr", f"ers-{run}", ns4)] = 9.0
    assert stored == pytest.approx(expected)

    log = ingest.log()
    assert "code=device_mismatch " in log
    assert "stored_readings=24 rejected=1" in log
    assert "Traceback" not in log
