"""The compose stack's own services, run here as compose would run them (#17 acceptance 1): the command line,
user and environment that `docker-compose config` gives each, the volumes mapped to folders here (named volumes
to fresh ones), compose's host names and ports to this machine's. The broker (Debian's Mosquitto behind
deploy/mosquitto-run.sh), the ingest service (as uid 10001, the image's user) and the demo fleet start and are
healthy by their own checks, and the ingest service takes the fleet's messages in.

InfluxDB: Debian's 1.6 stands in for the influxdb image, with passwords checked and the database and users that
compose's environment gives the image made as its first start makes them (an admin, a user who may only write, one
who may only read); the ingest service writes the fleet's readings as the writer. Not run: the InfluxDB and Grafana
images themselves (no Docker engine here).
"""

from __future__ import annotations

import json
import re
import shutil
import ssl
import subprocess
import sys
import tempfile
import urllib.request
from collections.abc import Callable
from pathlib import Path, PurePosixPath

import pytest
import yaml

from iot_suitcase.servers import InfluxDB, free_port, port_is_listening
from tests import asuser
from tests.helpers import wait_until
from tests.test_deploy import compose_config, env_value, prepared

pytestmark = pytest.mark.skipif(
    not asuser.usable(), reason="the broker's script starts as root; Debian's python3.11 runs the rest as uid 10001"
)


class Mounts:
    """Container paths -> folders here, from a service's volumes; named volumes become fresh folders."""

    def __init__(self, service: dict[str, object], volumes: Path) -> None:
        self.paths: list[tuple[PurePosixPath, Path]] = []
        for volume in service.get("volumes", []):  # type: ignore[attr-defined]
            source, target = str(volume).split(":")[:2]
            host = Path(source)
            if not source.startswith("/"):  # a named volume: a fresh folder, shared by the services naming it
                host = volumes / source
                host.mkdir(parents=True, exist_ok=True)
            self.paths.append((PurePosixPath(target), host))

    def host(self, container: str) -> str:
        """The folder here behind a container path (the longest mount that holds it)."""
        path = PurePosixPath(container)
        for target, host in sorted(self.paths, key=lambda pair: -len(pair[0].parts)):
            if path == target or target in path.parents:
                return str(host / path.relative_to(target))
        return container


def influx_as_the_image_makes_it(server: InfluxDB, environment: dict[str, str]) -> None:
    """What the influxdb image's first start does with its INFLUXDB_* variables (its init script): the database,
    the admin, then a user granted WRITE and one granted READ on that database."""
    database = environment["INFLUXDB_DB"]
    admin = (environment["INFLUXDB_ADMIN_USER"], environment["INFLUXDB_ADMIN_PASSWORD"])
    server.query(f"CREATE USER \"{admin[0]}\" WITH PASSWORD '{admin[1]}' WITH ALL PRIVILEGES")
    statements = [f'CREATE DATABASE "{database}"']
    for role in ("WRITE", "READ"):
        user, password = environment[f"INFLUXDB_{role}_USER"], environment[f"INFLUXDB_{role}_USER_PASSWORD"]
        statements += [
            f"CREATE USER \"{user}\" WITH PASSWORD '{password}'",
            f'GRANT {role} ON "{database}" TO "{user}"',
        ]
    for statement in statements:
        server.query(statement, auth=admin)


def test_every_compose_service_runs_with_the_environment_and_mounts_compose_gives_it(
    influxdb_factory: Callable[..., InfluxDB],
) -> None:
    base = Path(tempfile.mkdtemp(prefix="suitcase-compose-"))  # outside pytest's 0700 tree: uid 10001 enters it
    try:
        base.chmod(0o755)
        root = prepared(base)
        config, _warnings = compose_config(root)
        services: dict[str, dict[str, object]] = config["services"]
        influx_env = {str(k): str(v) for k, v in dict(services["influxdb"]["environment"]).items()}  # type: ignore[call-overload]
        assert influx_env["INFLUXDB_HTTP_AUTH_ENABLED"] == "true"
        influx = influxdb_factory(auth=True)
        influx_as_the_image_makes_it(influx, influx_env)
        volumes = base / "volumes"
        ports = {1883: free_port(), 1884: free_port(), 8883: free_port()}

        # the broker: its command and environment; its configuration with this machine's ports and folders
        broker_mounts = Mounts(services["mosquitto"], volumes)
        for named in ("mosquitto-data", "mosquitto-log"):
            shutil.chown(volumes / named, "mosquitto", "mosquitto")  # as the image's /mosquitto folders are
        conf = Path(broker_mounts.host("/mosquitto/config/mosquitto.conf")).read_text()
        for port, here in ports.items():
            conf = re.sub(rf"^listener {port}\b", f"listener {here}", conf, flags=re.MULTILINE)
        conf = conf.replace("/mosquitto/private", str(base / "private"))  # the script's copies, in the container
        conf = re.sub(r"(/mosquitto/\S+)", lambda found: broker_mounts.host(found.group(1)), conf)
        mapped_conf = base / "mosquitto.conf"
        mapped_conf.write_text(conf)
        broker_env = {str(k): str(v) for k, v in dict(services["mosquitto"].get("environment") or {}).items()}  # type: ignore[call-overload]
        broker_env |= {
            "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
            "BROKER_CONFIG": str(mapped_conf),
            "BROKER_FILES_FROM": broker_mounts.host("/mosquitto/config/suitcase"),
            "BROKER_CERTS_FROM": broker_mounts.host("/mosquitto/certs"),
            "BROKER_FILES_TO": str(base / "private"),
            "BROKER_LOG": broker_mounts.host("/mosquitto/log/mosquitto.log"),
        }
        command = [broker_mounts.host(part) for part in services["mosquitto"]["command"]]  # type: ignore[attr-defined]
        broker = subprocess.Popen(command, env=broker_env)
        processes = [broker]
        try:
            wait_until(lambda: port_is_listening("127.0.0.1", ports[1883]), 15, "the broker's health check (nc -z)")

            # the ingest service: compose's environment, the image's ENV and user, host names and ports here
            ingest_mounts = Mounts(services["ingest"], volumes)
            image_env = dict(
                re.findall(
                    r"(SUITCASE_\w+)=(\S+)",  # the image's stage (the last), not the build stage's arguments
                    (root / "Dockerfile").read_text().rsplit("\nFROM ", 1)[1].split("VOLUME")[0],
                )
            )
            ingest_env = {**image_env, **{str(k): str(v) for k, v in dict(services["ingest"]["environment"]).items()}}  # type: ignore[call-overload]
            ingest_env = {
                key: ingest_mounts.host(value) if value.startswith("/") else value for key, value in ingest_env.items()
            }
            http_port = free_port()
            ingest_env |= {
                "SUITCASE_MQTT_HOST": "127.0.0.1",
                "SUITCASE_MQTT_SERVICE_PORT": str(ports[1884]),
                "SUITCASE_INFLUX_URL": influx.url,
                "SUITCASE_HTTP_HOST": "127.0.0.1",
                "SUITCASE_HTTP_PORT": str(http_port),
                "PATH": "/usr/bin:/bin",
            }
            uid, gid = (int(part) for part in str(services["ingest"]["user"]).split(":"))
            assert uid != 0, "compose runs it as the user init chose, never root"

            as_container_user = asuser.become(uid, gid)
            python_env = asuser.python_path()
            app = base / "app"  # the image's WORKDIR: nothing of the host's there
            app.mkdir()
            log = (base / "ingest.log").open("wb")
            ingest = subprocess.Popen(
                asuser.suitcase_command(*services["ingest"]["command"]),  # type: ignore[misc]
                cwd=app,
                env={**ingest_env, **python_env},
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=as_container_user,  # noqa: PLW1509 (the user must be set in the child)
            )
            processes.append(ingest)
            check = re.search(r"HEALTHCHECK .* CMD (\[.*\])", (root / "Dockerfile").read_text())
            assert check is not None, "the image has a health check"
            health = yaml.safe_load(check.group(1))

            def healthy() -> bool:
                probe = asuser.suitcase_command(*health[1:])
                return (
                    subprocess.run(probe, env={**ingest_env, **python_env}, capture_output=True, check=False).returncode
                    == 0
                )

            wait_until(healthy, 60, "the ingest service's health check (suitcase health, over HTTPS)")
            assert b"connected to broker" in (base / "ingest.log").read_bytes()
            written = [p for p in Path(ingest_mounts.host("/data")).rglob("*") if p.is_file()]
            assert written, "it wrote its log and stores into the data folder"
            assert {p.stat().st_uid for p in written} == {uid}

            # the demo fleet: its command and environment, publishing to the broker's internal listener
            simulator_env = {str(k): str(v) for k, v in dict(services["simulator"]["environment"]).items()}  # type: ignore[call-overload]
            simulator_mounts = Mounts(services["simulator"], volumes)
            arguments = [simulator_mounts.host(a) if a.startswith("/") else a for a in services["simulator"]["command"]]  # type: ignore[attr-defined]
            arguments = ["127.0.0.1" if a == "mosquitto" else a for a in arguments]
            arguments += ["--mqtt-port", str(ports[1883])]
            simulator = subprocess.Popen(
                asuser.suitcase_command(*arguments),
                cwd=app,
                env={**simulator_env, **python_env, "PATH": "/usr/bin:/bin"},
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                preexec_fn=as_container_user,  # noqa: PLW1509
            )
            processes.append(simulator)
            token = env_value(root, "SUITCASE_METRICS_TOKEN")
            trusted = ssl.create_default_context(cafile=ingest_env["SUITCASE_DEVICE_CA_FILE"])
            request = urllib.request.Request(
                f"https://localhost:{http_port}/metrics", headers={"Authorization": f"Bearer {token}"}
            )

            def received() -> bool:
                with urllib.request.urlopen(request, context=trusted, timeout=5) as answer:
                    text = answer.read().decode()  # --workers auto: one sample per worker, labelled with it
                found = re.findall(r'^suitcase_messages_received_total\{worker="\d+"\} (\S+)', text, re.MULTILINE)
                return sum(float(value) for value in found) > 0

            wait_until(received, 60, "the demo fleet's messages taken in by the ingest service")
            admin = (influx_env["INFLUXDB_ADMIN_USER"], influx_env["INFLUXDB_ADMIN_PASSWORD"])

            def stored() -> bool:
                answer = influx.query("SELECT count(*) FROM suitcase_uplinks", influx_env["INFLUXDB_DB"], auth=admin)
                return bool(answer["results"][0].get("series"))

            wait_until(stored, 60, "the fleet's readings in InfluxDB, written by the user who may only write")
            assert ingest_env["SUITCASE_INFLUX_USERNAME"] == influx_env["INFLUXDB_WRITE_USER"]

            # the open-data server: the reader's account only, the registry and the choices read-only
            opendata_mounts = Mounts(services["opendata"], volumes)
            compose_env = dict(services["opendata"]["environment"])  # type: ignore[call-overload]
            opendata_env = {**image_env, **{str(k): str(v) for k, v in compose_env.items()}}
            opendata_env = {k: opendata_mounts.host(v) if v.startswith("/") else v for k, v in opendata_env.items()}
            assert not {"SUITCASE_INFLUX_PASSWORD", "SUITCASE_MQTT_PASSWORD", "SUITCASE_METRICS_TOKEN"} & set(
                opendata_env
            )
            Path(opendata_mounts.host("/config/opendata.toml")).write_text('publish = [{ quantity = "temperature" }]\n')
            opendata_port = free_port()
            opendata_env |= {"SUITCASE_INFLUX_URL": influx.url, "SUITCASE_OPENDATA_PORT": str(opendata_port),
                             "SUITCASE_OPENDATA_HOST": "127.0.0.1", "PATH": "/usr/bin:/bin"}  # fmt: skip
            opendata = subprocess.Popen(
                asuser.suitcase_command(*services["opendata"]["command"]),  # type: ignore[misc]
                cwd=app,
                env={**opendata_env, **python_env},
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                preexec_fn=as_container_user,  # noqa: PLW1509
            )
            processes.append(opendata)
            probe = services["opendata"]["healthcheck"]["test"][1:]  # type: ignore[index]
            probe = [part.replace(":9080/", f":{opendata_port}/") for part in probe]
            probe[0] = sys.executable

            def opendata_healthy() -> bool:
                return subprocess.run(probe, capture_output=True, check=False).returncode == 0

            wait_until(opendata_healthy, 30, "the open-data server's health check")
            public = f"http://127.0.0.1:{opendata_port}/sta/v1.1"

            def observations() -> int:
                with urllib.request.urlopen(f"{public}/Datastreams?$expand=Observations", timeout=10) as answer:
                    streams = json.loads(answer.read())["value"]
                return sum(len(stream["Observations"]) for stream in streams)

            wait_until(lambda: observations() > 0, 60, "the fleet's temperatures, read by the reader's account only")

            # Grafana's provisioner: the tree written by the stack itself, into the folder init made
            provisioner_mounts = Mounts(services["grafana-provisioning"], volumes)
            tree = Path(provisioner_mounts.host("/provisioning"))
            for exported in tree.iterdir():  # what the test's set-up exported: the service starts from an empty folder
                shutil.rmtree(exported)
            assert tree.stat().st_uid == uid, "init made the folder the containers' user's"
            provisioner_env = {str(k): str(v) for k, v in dict(services["grafana-provisioning"]["environment"]).items()}  # type: ignore[call-overload]
            provisioner_env |= {"SUITCASE_REGISTRY_FILE": provisioner_mounts.host("/config/registry.yaml")}
            provisioner_command: list[str] = services["grafana-provisioning"]["command"]  # type: ignore[assignment]
            arguments = [provisioner_mounts.host(a) if a.startswith("/") else a for a in provisioner_command]
            provisioner = subprocess.Popen(
                asuser.suitcase_command(*arguments),
                cwd=app,
                env={**provisioner_env, **python_env, "PATH": "/usr/bin:/bin"},
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                preexec_fn=as_container_user,  # noqa: PLW1509
            )
            processes.append(provisioner)
            datasource = tree / "datasources" / "iot-suitcase.yaml"
            wait_until(datasource.exists, 60, "the provisioner's health check (its datasource file)")
            assert "http://influxdb:8086" in datasource.read_text()
            provider = (tree / "dashboards" / "iot-suitcase.yaml").read_text()
            assert "path: /etc/grafana/provisioning/dashboards/iot-suitcase" in provider, "the container's path"
        finally:
            for process in reversed(processes):
                process.terminate()
                process.wait(timeout=20)
    finally:
        shutil.rmtree(base, ignore_errors=True)
