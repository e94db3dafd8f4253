"""`suitcase install --systemd` (#17 point 8): the production stack on a Debian server without Docker. No
systemd runs here, so the units are checked with `systemd-analyze verify` and their ExecStart lines run the
way systemd would run them (user, environment, working directory), with Debian's Mosquitto and a real
InfluxDB: a device publishes over TLS, the ingest service stores its reading as an unprivileged user, and reads
the broker's refusals from the log the broker hands over."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

import pytest

from iot_suitcase.install import BROKER_UNIT, INGEST_UNIT, OPENDATA_UNIT, TENANT_OPENDATA_UNIT, TENANT_UNIT
from iot_suitcase.servers import InfluxDB, free_port, port_is_listening
from tests import asuser
from tests.helpers import wait_until

REPO = Path(__file__).resolve().parent.parent
SERVICE_UID = 10001

pytestmark = pytest.mark.skipif(
    not asuser.usable(), reason="as root (the installer hands ./var over); Debian's python3.11 runs it as uid 10001"
)


def unit(path: Path) -> dict[str, list[str]]:
    """The [Service] settings of a unit: key -> values, in order."""
    found: dict[str, list[str]] = {}
    section = ""
    for line in path.read_text().splitlines():
        if line.startswith("["):
            section = line
        elif section == "[Service]" and "=" in line and not line.startswith("#"):
            key, _, value = line.partition("=")
            found.setdefault(key, []).append(value)
    return found


def environment(settings: dict[str, list[str]]) -> dict[str, str]:
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
    for path in settings.get("EnvironmentFile", []):
        for line in Path(path).read_text().splitlines():
            if "=" in line and not line.startswith("#"):
                key, _, value = line.partition("=")
                env[key] = value
    for assignment in settings.get("Environment", []):
        key, _, value = assignment.partition("=")
        env[key] = value
    return env


def published_temperatures(port: int) -> list[float]:
    """kit-1's public temperatures, from the open-data server on ``port`` once it listens."""
    wait_until(lambda: port_is_listening("127.0.0.1", port), 30, "the open-data server")
    observations = f"http://127.0.0.1:{port}/sta/v1.1/Datastreams('kit-1~temperature')/Observations"
    with urllib.request.urlopen(observations, timeout=10) as answer:
        return [o["result"] for o in json.loads(answer.read())["value"]]


def test_the_systemd_units_run_the_stack_with_the_least_privilege_split(influxdb: InfluxDB, influx_db: str) -> None:
    root = Path(tempfile.mkdtemp(prefix="suitcase-systemd-"))  # outside pytest's 0700 tree: uid 10001 enters it
    try:
        root.chmod(0o755)
        shutil.copytree(REPO / "deploy", root / "deploy")

        def suitcase(*args: str, env: dict[str, str] | None = None) -> str:
            command = [sys.executable, "-m", "iot_suitcase", *args]
            environment = {**os.environ, **(env or {})}
            done = subprocess.run(
                command, cwd=root, capture_output=True, text=True, timeout=60, env=environment, check=False
            )
            assert done.returncode == 0, done.stderr
            return done.stdout

        suitcase("init", "--tls-name", "localhost")
        with (root / ".env").open("a") as env_file:  # where this server's InfluxDB is: the operator's lines
            env_file.write(f"SUITCASE_INFLUX_URL={influxdb.url}\nSUITCASE_INFLUX_DATABASE={influx_db}\n")
        suitcase("devices", "add", "kit-1", "--model", "native", "--site", "harbour")
        password = json.loads(suitcase("devices", "credentials", "kit-1", "--json"))["mqtt_password"]
        tenant = f"t{secrets.token_hex(4)}"  # its database is suitcase_<name>, in the suite's shared InfluxDB
        suitcase("tenants", "add", tenant)
        suitcase("--tenant", tenant, "devices", "add", "kit-1", "--model", "native", "--site", "harbour")
        tenant_kit = json.loads(suitcase("--tenant", tenant, "devices", "credentials", "kit-1", "--json"))
        ports = {"SUITCASE_MQTT_PORT": str(free_port()), "SUITCASE_MQTT_SERVICE_PORT": str(free_port())}
        tls_port = free_port()
        units = root / "units"
        user = ["--user", str(SERVICE_UID)]
        suitcase("install", "--systemd", "--unit-dir", str(units), *user, "--tls-port", str(tls_port), env=ports)

        if shutil.which("systemd-analyze"):
            instances = [template.replace("@", f"@{tenant}") for template in (TENANT_UNIT, TENANT_OPENDATA_UNIT)]
            for instance, template in zip(instances, (TENANT_UNIT, TENANT_OPENDATA_UNIT), strict=True):
                (units / instance).symlink_to(units / template)
            for name in (BROKER_UNIT, INGEST_UNIT, OPENDATA_UNIT, *instances):
                verify = ["systemd-analyze", "verify", str(units / name)]
                verified = subprocess.run(verify, capture_output=True, text=True, check=False)
                assert verified.returncode == 0, verified.stderr
        broker_settings, ingest_settings = unit(units / BROKER_UNIT), unit(units / INGEST_UNIT)
        assert ingest_settings["User"] == [str(SERVICE_UID)]
        assert {"NoNewPrivileges", "ProtectSystem", "ReadWritePaths", "CapabilityBoundingSet"} <= set(ingest_settings)
        ingest_env = environment(ingest_settings)
        assert "GF_SECURITY_ADMIN_PASSWORD" not in ingest_env, "its own secrets only"
        assert "INFLUXDB_ADMIN_PASSWORD" not in ingest_env
        assert (root / "var" / "env" / "ingest.env").stat().st_mode & 0o777 == 0o600

        broker_env = environment(broker_settings)
        runtime = Path(broker_env["BROKER_FILES_TO"])
        runtime.mkdir(mode=0o700, exist_ok=True)  # systemd's RuntimeDirectory=
        [broker_command] = broker_settings["ExecStart"]
        broker = subprocess.Popen(broker_command.split(), env=broker_env)
        ingest_log = (root / "ingest.log").open("wb")
        [ingest_command] = ingest_settings["ExecStart"]
        program, *arguments = ingest_command.split()
        assert Path(program).name == "suitcase"

        tenant_settings = unit(units / TENANT_UNIT)
        tenant_env = {key: value.replace("%i", tenant) for key, value in environment(tenant_settings).items()}
        assert tenant_settings["User"] == [str(SERVICE_UID)]
        assert "SUITCASE_MQTT_PASSWORD" not in tenant_env, "its secrets are its tenant.env's, read by the service"
        tenant_log = (root / "tenant.log").open("wb")
        [tenant_command] = tenant_settings["ExecStart"]

        http_port = free_port()
        tenant_ingest = subprocess.Popen(
            asuser.suitcase_command(*tenant_command.split()[1:]),
            cwd=tenant_settings["WorkingDirectory"][0],
            env={**tenant_env, **asuser.python_path(), "SUITCASE_HTTP_PORT": str(free_port())},
            stdout=tenant_log,
            stderr=subprocess.STDOUT,
            preexec_fn=asuser.become(SERVICE_UID, SERVICE_UID),  # noqa: PLW1509 (the user must be set in the child)
        )
        ingest = subprocess.Popen(
            asuser.suitcase_command(*arguments),
            cwd=ingest_settings["WorkingDirectory"][0],
            env={**ingest_env, **asuser.python_path(), "SUITCASE_HTTP_PORT": str(http_port)},
            stdout=ingest_log,
            stderr=subprocess.STDOUT,
            preexec_fn=asuser.become(SERVICE_UID, SERVICE_UID),  # noqa: PLW1509 (the user must be set in the child)
        )
        try:
            wait_until(lambda: port_is_listening("127.0.0.1", tls_port), 15, "the broker's TLS listener")
            wait_until(lambda: b"connected to broker" in (root / "ingest.log").read_bytes(), 60, "ingest as uid 10001")

            def publish(secret: str, user: str = "kit-1", topic: str = "suitcase/kit-1/up", value: float = 19.5) -> int:
                ca = str(root / "var" / "certs" / "ca.crt")
                command = ["mosquitto_pub", "-h", "localhost", "-p", str(tls_port), "--cafile", ca, "-u", user]
                command += [
                    "-P",
                    secret,
                    "-q",
                    "1",
                    "-t",
                    topic,
                    "-m",
                    json.dumps({"readings": {"temperature": value}}),
                ]
                return subprocess.run(command, capture_output=True, timeout=10, check=False).returncode

            assert publish(password) == 0
            wait_until(lambda: bool(influxdb.points(influx_db, "temperature")), 20, "the reading stored")
            tenant_started = b"connected to broker"
            wait_until(
                lambda: tenant_started in (root / "tenant.log").read_bytes(),
                60,
                (root / "tenant.log").read_text()[-3000:] if tenant_ingest.poll() is not None else "the tenant service",
            )
            tenant_topic = f"suitcase@{tenant}/kit-1/up"
            assert publish(tenant_kit["mqtt_password"], tenant_kit["mqtt_username"], tenant_topic, 21.25) == 0
            database = f"suitcase_{tenant}"
            wait_until(lambda: bool(influxdb.points(database, "temperature")), 20, "the tenant's reading stored")
            assert influxdb.points(database, "temperature")[0]["device"] == "kit-1"
            assert publish("not-its-password") != 0
            token = ingest_env["SUITCASE_METRICS_TOKEN"]
            metrics = f"http://127.0.0.1:{http_port}/metrics"
            request = urllib.request.Request(metrics, headers={"Authorization": f"Bearer {token}"})

            def refused() -> bool:
                text = urllib.request.urlopen(request, timeout=5).read().decode()
                # the unit runs --workers auto: worker 0 follows the broker's log, its samples say so
                return 'suitcase_broker_refused_total{kind="not_authorised",worker="0"} 1.0' in text

            wait_until(refused, 10, "the refused login, read from the log the broker handed over")

            # the open-data server: as the same user, with the reader's account only
            opendata_settings = unit(units / OPENDATA_UNIT)
            opendata_env = environment(opendata_settings)
            assert opendata_settings["User"] == [str(SERVICE_UID)]
            assert not {"SUITCASE_INFLUX_PASSWORD", "SUITCASE_MQTT_PASSWORD", "SUITCASE_METRICS_TOKEN"} & set(
                opendata_env
            )
            assert (root / "var" / "env" / "opendata.env").stat().st_mode & 0o777 == 0o600
            (root / "var" / "opendata.toml").write_text('publish = [{ device = "kit-1" }]\n')
            opendata_port = free_port()
            [opendata_command] = opendata_settings["ExecStart"]
            opendata = subprocess.Popen(
                asuser.suitcase_command(*opendata_command.split()[1:]),
                cwd=opendata_settings["WorkingDirectory"][0],
                env={**opendata_env, **asuser.python_path(), "SUITCASE_OPENDATA_PORT": str(opendata_port)},
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                preexec_fn=asuser.become(SERVICE_UID, SERVICE_UID),  # noqa: PLW1509
            )
            try:
                assert published_temperatures(opendata_port) == [19.5]
            finally:
                opendata.terminate()
                opendata.wait(timeout=15)

            # a tenant's open-data server: its reader's account and port only, its secrets and payloads hidden
            tenant_folder = root / "var" / "tenants" / tenant
            settings = unit(units / TENANT_OPENDATA_UNIT)
            settings = {key: [value.replace("%i", tenant) for value in values] for key, values in settings.items()}
            tenant_opendata_env = environment(settings)
            assert (tenant_folder / "opendata.env").stat().st_mode & 0o777 == 0o600
            assert tenant_opendata_env["SUITCASE_INFLUX_DATABASE"] == database
            assert tenant_opendata_env["SUITCASE_INFLUX_READ_USERNAME"] == f"suitcase-reader-{tenant}"
            assert not {"SUITCASE_TENANT", "SUITCASE_INFLUX_PASSWORD", "SUITCASE_MQTT_PASSWORD"} & set(
                tenant_opendata_env
            ), "the tenant.env is not read: it holds the tenant's other secrets"
            [hidden] = settings["InaccessiblePaths"]
            for secret in ("tenant.env", "credentials.yaml", "ingest"):
                assert f"-{tenant_folder / secret}" in hidden.split()
            assert f"-{root / '.env'}" in hidden.split()
            assert not (Path(settings["WorkingDirectory"][0]) / ".env").exists(), "no .env where it runs"
            (tenant_folder / "opendata.toml").write_text('publish = [{ device = "kit-1" }]\n')
            tenant_port = int(tenant_opendata_env["SUITCASE_OPENDATA_PORT"])
            assert tenant_port not in (opendata_port, 9080), "a port of its own"
            tenant_opendata_port = free_port()
            [tenant_opendata_command] = settings["ExecStart"]
            tenant_opendata = subprocess.Popen(
                asuser.suitcase_command(*tenant_opendata_command.split()[1:]),
                cwd=settings["WorkingDirectory"][0],
                env={
                    **tenant_opendata_env,
                    **asuser.python_path(),
                    "SUITCASE_OPENDATA_PORT": str(tenant_opendata_port),
                },
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                preexec_fn=asuser.become(SERVICE_UID, SERVICE_UID),  # noqa: PLW1509
            )
            try:
                assert published_temperatures(tenant_opendata_port) == [21.25], "the tenant's own reading"
            finally:
                tenant_opendata.terminate()
                tenant_opendata.wait(timeout=15)
            written = [p for p in (root / "var" / "ingest").rglob("*") if p.is_file()]
            assert written, "it wrote its log and stores"
            assert {p.stat().st_uid for p in written} == {SERVICE_UID}
        finally:
            for service in (ingest, tenant_ingest):
                service.terminate()
                service.wait(timeout=15)
            broker.terminate()
            broker.wait(timeout=10)
            shutil.rmtree(runtime, ignore_errors=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
