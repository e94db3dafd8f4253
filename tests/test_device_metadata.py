"""Device metadata is data in InfluxDB (#17 point 3): the running ingest service writes the registry's devices to
``suitcase_devices`` and tags each uplink with the device's expected interval, so the dashboards' own queries
(the map, the silence window) show a device registered a moment ago, with no new export; a device removed while
the service was down is withdrawn when it starts again."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from iot_suitcase.dashboards.queries import Queries
from iot_suitcase.devices.registry import RegistryFile, make_spec
from iot_suitcase.servers import InfluxDB, Mosquitto
from tests.helpers import IngestProcess, publish_all, unique, wait_until

EVERY_SITE = "/^${site:regex}$/"


def shown_on_map(influxdb: InfluxDB, db: str) -> dict[str, dict[str, Any]]:
    """The map's device query as Grafana sends it with every site chosen (its "All" value is ``.*``)."""
    query = Queries().located_devices().replace(EVERY_SITE, "/^.*$/")
    result = influxdb.query(query, db)
    series = [s for statement in result["results"] for s in statement.get("series", [])]
    return {s["tags"]["device"]: dict(zip(s["columns"], s["values"][0], strict=True)) for s in series}


def ingest(tmp_path: Path, mosquitto: Mosquitto, influxdb: InfluxDB, db: str, registry: Path) -> IngestProcess:
    settings = {
        "mqtt_host": mosquitto.host,
        "mqtt_port": str(mosquitto.port),
        "mqtt_client_id": unique("suitcase-ingest-"),
        "influx_url": influxdb.url,
        "influx_database": db,
        "registry_file": str(registry),
        "unknown_devices": "reject",
        "batch_interval_s": "0.05",
    }
    return IngestProcess(tmp_path / "ingest.log", settings).start()


def test_the_registry_reaches_influxdb_and_the_map_follows_it_without_an_export(
    tmp_path: Path, mosquitto: Mosquitto, influxdb: InfluxDB, influx_db: str
) -> None:
    registry = RegistryFile(tmp_path / "registry.yaml")
    with registry.edit() as devices:
        devices.add(
            make_spec(
                {"id": "quay-1", "model": "native", "site": "harbour", "kind": "climate", "interval_s": 300,
                 "name": 'Quay "north", gate\\2', "location": {"lat": 56.15, "lon": 10.21}}
            )
        )  # fmt: skip
        devices.add(make_spec({"id": "cellar-1", "model": "native", "site": "dokk1", "kind": "level"}))
    service = ingest(tmp_path, mosquitto, influxdb, influx_db, registry.path)
    try:
        wait_until(lambda: "quay-1" in shown_on_map(influxdb, influx_db), 20, "the registry in InfluxDB")
        quay = shown_on_map(influxdb, influx_db)["quay-1"]
        assert (quay["name"], quay["site"], quay["kind"], quay["interval_s"]) == ('Quay "north", gate\\2', "harbour",
                                                                                  "climate", 300)  # fmt: skip
        assert (quay["lat"], quay["lon"]) == (56.15, 10.21)
        assert "cellar-1" not in shown_on_map(influxdb, influx_db)  # no location: not on the map

        with registry.edit() as devices:  # a device registered now is on the map within seconds
            devices.add(
                make_spec({"id": "bridge-1", "model": "native", "site": "harbour", "kind": "climate",
                           "interval_s": 300, "location": {"lat": 56.16, "lon": 10.22}})
            )  # fmt: skip
            devices.update("quay-1", site="dokk1")
        wait_until(lambda: "bridge-1" in shown_on_map(influxdb, influx_db), 20, "the new device on the map")
        assert shown_on_map(influxdb, influx_db)["quay-1"]["site"] == "dokk1"

        publish_all(mosquitto.host, mosquitto.port, [("suitcase/bridge-1/up", b'{"readings": {"temperature": 4}}')])
        wait_until(lambda: bool(influxdb.points(influx_db, "suitcase_uplinks")), 20, "the uplink")
        (uplink,) = influxdb.points(influx_db, "suitcase_uplinks")
        assert (uplink["device"], uplink["site"], uplink["interval_s"]) == ("bridge-1", "harbour", "300")
        silence = Queries().uplinks_for_silence_alert([300])
        counts = influxdb.query(silence, influx_db)["results"][0]["series"]
        assert [(s["tags"]["device"], s["values"][0][1]) for s in counts] == [("bridge-1", 1)]
    finally:
        service.terminate()

    with registry.edit() as devices:  # removed while the service is down
        devices.remove("bridge-1")
    service = ingest(tmp_path, mosquitto, influxdb, influx_db, registry.path)
    try:
        wait_until(lambda: "bridge-1" not in shown_on_map(influxdb, influx_db), 20, "the removed device withdrawn")
        assert set(shown_on_map(influxdb, influx_db)) == {"quay-1"}
    finally:
        service.terminate()
