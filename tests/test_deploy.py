"""The production stack without a Docker engine: compose validated offline, the Dockerfile's commands run.

Debian's docker-compose parses and validates the file against its schema; every file it mounts and every
variable it needs must exist after the documented set-up (`suitcase init`, `suitcase dashboards export`).
The Dockerfile's RUN/CMD/HEALTHCHECK commands run in a fresh virtualenv.
"""

from __future__ import annotations

import json
import os
import pwd
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import venv
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import yaml

from iot_suitcase.cli import build_parser
from iot_suitcase.devices.credentials import BrokerFiles, Listener, listener_config
from iot_suitcase.devices.credentials.mosquitto import (
    device_acl,
    hash_password,
    password_file,
    tls_listener_config,
    write_atomically,
)
from iot_suitcase.ingest.config import IngestSettings
from iot_suitcase.init import CONTAINER_UID
from iot_suitcase.servers import InfluxDB, Mosquitto, free_port
from tests import asuser
from tests.helpers import unique, wait_until

REPO = Path(__file__).parent.parent


def prepared(tmp_path: Path) -> Path:
    """A copy of the deployment files after the README's production set-up steps."""
    target = tmp_path / "deploy-root"
    target.mkdir()
    for name in ("docker-compose.yml", "Dockerfile"):
        shutil.copy(REPO / name, target / name)
    shutil.copytree(REPO / "deploy", target / "deploy")
    suitcase = [sys.executable, "-m", "iot_suitcase"]
    subprocess.run([*suitcase, "init"], cwd=target, check=True, capture_output=True, timeout=60)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SUITCASE_")}  # as the README's one command
    subprocess.run(  # the first pass of the grafana-provisioning service
        [*suitcase, "dashboards", "export", "var/grafana-compose", "--compose"],
        cwd=target,
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )
    return target


def compose_config(root: Path) -> tuple[dict[str, Any], str]:
    result = subprocess.run(
        ["docker-compose", "config"], cwd=root, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout), result.stderr


def test_compose_parses_and_everything_it_mounts_and_needs_exists(tmp_path: Path) -> None:
    root = prepared(tmp_path)
    config, warnings = compose_config(root)
    assert "variable is not set" not in warnings, warnings
    services: dict[str, dict[str, object]] = config["services"]
    assert set(services) == {
        "mosquitto",
        "influxdb",
        "grafana",
        "grafana-provisioning",
        "ingest",
        "opendata",
        "simulator",
    }
    assert services["simulator"]["profiles"] == ["demo"]
    for name, service in services.items():
        if name != "simulator":
            assert service["restart"] == "unless-stopped", name
            assert "healthcheck" in service or name == "ingest", name  # ingest's is in the Dockerfile
        for source, _target in mounts(service):
            if source.startswith("/"):  # a bind mount (named volumes have no path)
                assert Path(source).exists(), f"{name} mounts {source}, which is missing"
    for name in ("mosquitto", "influxdb", "grafana"):  # #17 point 7: what runs is what was checked
        assert re.fullmatch(r"[a-z/-]+:\d+\.\d+\.\d+", str(services[name]["image"])), f"{name} floats"
    build, base = re.findall(r"^FROM (\S+)", (root / "Dockerfile").read_text(), re.MULTILINE)
    assert re.fullmatch(r"python:3\.11\.\d+-slim-bookworm", base), "the Python image floats"
    assert build == base, "the hot path is compiled for the Python that runs it"
    published = {name: [p["published"] for p in s.get("ports", [])] for name, s in services.items()}  # type: ignore[attr-defined]
    assert published == {
        "mosquitto": [8883],
        "influxdb": [],
        "grafana": [3000],
        "grafana-provisioning": [],
        "ingest": [8080],
        "opendata": [9080],
        "simulator": [],
    }
    assert set(config["volumes"]) >= {"mosquitto-data", "influxdb-data", "grafana-data"}
    ingest_mounts = {target: source for source, target in mounts(services["ingest"])}
    assert ingest_mounts["/data"] == str(root / "var" / "ingest"), "a directory init made, not a fresh root volume"
    grafana_mounts = {target: source for source, target in mounts(services["grafana"])}
    assert grafana_mounts["/etc/grafana/provisioning"] == str(root / "var" / "grafana-compose")
    provisioner_mounts = {target: source for source, target in mounts(services["grafana-provisioning"])}
    assert provisioner_mounts["/provisioning"] == grafana_mounts["/etc/grafana/provisioning"], "what it writes"
    provisioner_command: list[str] = services["grafana-provisioning"]["command"]  # type: ignore[assignment]
    provisioner = build_parser().parse_args(provisioner_command)
    assert (provisioner.directory, provisioner.compose, provisioner.watch) == (Path("/provisioning"), True, True)
    tree = root / "var" / "grafana-compose"
    assert {p.name for p in tree.iterdir()} >= {"datasources", "dashboards", "alerting"}, "the export tree is mounted"
    datasource = (
        (tree / "datasources").read_text()
        if tree.joinpath("datasources").is_file()
        else "".join(f.read_text() for f in (tree / "datasources").glob("*.yaml"))
    )
    assert "http://influxdb:8086" in datasource
    written = [path.read_text() for path in tree.rglob("*") if path.is_file()]
    assert not any(str(root) in text for text in written), "no host path: Grafana sees the container's"
    assert "user: suitcase-reader" in datasource, "Grafana reads as the user who may only read"
    assert env_value(root, "SUITCASE_INFLUX_READ_PASSWORD") not in datasource, "its password is referenced, not written"
    assert "$__env{SUITCASE_INFLUX_READ_PASSWORD}" in datasource
    env = dict(line.split("=", 1) for line in (root / ".env").read_text().splitlines() if "=" in line)
    for needed in (
        "GF_SECURITY_ADMIN_PASSWORD",
        "INFLUXDB_ADMIN_PASSWORD",
        "SUITCASE_INFLUX_PASSWORD",
        "SUITCASE_INFLUX_READ_PASSWORD",
        "SUITCASE_MQTT_PASSWORD",
        "SUITCASE_SIMULATOR_MQTT_USERNAME",
        "SUITCASE_SIMULATOR_MQTT_PASSWORD",
        "SUITCASE_UID",
    ):
        assert env.get(needed), f".env lacks {needed}"
    assert f"user {env['SUITCASE_SIMULATOR_MQTT_USERNAME']}\n" in (root / "var" / "mosquitto" / "acl").read_text()
    # #17 point 5: each container carries its own secrets only, never the whole .env
    secrets_of = {
        name: {key for key, value in dict(service.get("environment") or {}).items() if value and value in env.values()}  # type: ignore[call-overload]
        for name, service in services.items()
    }
    assert all("env_file" not in service for service in services.values())
    assert secrets_of["mosquitto"] <= {"SUITCASE_GID"}
    passwords = {
        name: {key for key in found if key.endswith(("PASSWORD", "TOKEN"))} for name, found in secrets_of.items()
    }
    assert passwords["grafana"] == {"GF_SECURITY_ADMIN_PASSWORD", "SUITCASE_INFLUX_READ_PASSWORD"}
    assert passwords["grafana-provisioning"] == set(), "it names the read user; Grafana has the password"
    assert passwords["simulator"] == {"SUITCASE_SIMULATOR_MQTT_PASSWORD"}
    assert passwords["opendata"] == {"SUITCASE_INFLUX_READ_PASSWORD"}, "the public side reads, and only reads"
    assert passwords["ingest"] == {
        "SUITCASE_MQTT_PASSWORD",
        "SUITCASE_INFLUX_PASSWORD",  # the user who may only write
        "SUITCASE_INFLUX_READ_PASSWORD",  # the one who may only read, for the console's charts
        "SUITCASE_METRICS_TOKEN",
        "SUITCASE_SIMULATOR_MQTT_PASSWORD",  # written into the broker files, as the devices' are
    }
    assert "INFLUXDB_ADMIN_PASSWORD" in passwords["influxdb"], "the admin's password: InfluxDB's own, nobody else's"
    assert not {name for name, found in passwords.items() if "INFLUXDB_ADMIN_PASSWORD" in found} - {"influxdb"}
    for name in ("ingest", "opendata", "simulator", "grafana-provisioning"):
        command: list[str] = services[name]["command"]  # type: ignore[assignment]
        parsed = build_parser().parse_args(command)
        assert callable(parsed.handler), f"{name}: {command} is a suitcase command"
    mosquitto_conf = (root / "deploy" / "mosquitto.conf").read_text()
    for line in ("max_queued_messages 0", "persistence true"):
        assert line in mosquitto_conf
    in_container = PurePosixPath("/mosquitto/private")
    files = BrokerFiles(
        in_container / "passwd", in_container / "acl", in_container / "passwd-service", in_container / "acl-service"
    )
    listeners = listener_config(
        Listener(1883), Listener(1884), files, message_size_limit=IngestSettings().max_payload_bytes
    )
    assert strip_comments(listeners) in strip_comments(mosquitto_conf), "compose's broker = the generated layout"
    tls = tls_listener_config(8883, files, PurePosixPath("/mosquitto/private/certs"))
    assert strip_comments(tls) in strip_comments(mosquitto_conf), "devices over TLS, as tested here"
    ingest_env: dict[str, str] = services["ingest"]["environment"]  # type: ignore[assignment]
    assert ingest_env["SUITCASE_MQTT_SERVICE_PORT"] == "1884"
    assert (root / "var" / "mosquitto" / "passwd-service").read_text().startswith("suitcase-ingest:$7$")
    assert "suitcase-ingest" not in (root / "var" / "mosquitto" / "passwd").read_text()

    # broker refusals: the ingest service reads, from the same volume, the log the broker writes
    [broker_log] = re.findall(r"^log_dest file (\S+)$", mosquitto_conf, re.MULTILINE)
    assert "log_type debug" in mosquitto_conf, "ACL denials are logged at the debug level only"
    broker_volumes = {target: source for source, target in mounts(services["mosquitto"])}
    log_volume = broker_volumes[str(PurePosixPath(broker_log).parent)]
    assert not log_volume.startswith("/"), "a named volume"
    reader = PurePosixPath(ingest_env["SUITCASE_BROKER_LOG_FILE"])
    assert any(m == f"{log_volume}:{reader.parent}:ro" for m in services["ingest"]["volumes"])  # type: ignore[attr-defined]
    assert reader.name == PurePosixPath(broker_log).name
    assert services["mosquitto"]["command"] == ["/bin/sh", "/suitcase/mosquitto-run.sh"]
    assert broker_volumes["/suitcase/mosquitto-run.sh"] == str(root / "deploy" / "mosquitto-run.sh")


@pytest.mark.skipif(os.getuid() != 0, reason="the script runs as root in the container, Mosquitto as its own user")
def test_the_compose_brokers_log_is_readable_by_the_ingest_user_and_rotated(tmp_path: Path) -> None:
    """deploy/mosquitto-run.sh with Debian's Mosquitto and compose's log settings: Mosquitto is the process
    compose signals, the ingest container's user can read its log, and past its size the log rotates."""
    root = Path(tempfile.mkdtemp(prefix="suitcase-brokerlog-"))  # outside pytest's 0700 tree: others read it
    try:
        root.chmod(0o755)
        logs = root / "log"
        logs.mkdir()
        shutil.chown(logs, "mosquitto", "mosquitto")  # as the image's /mosquitto/log
        log = logs / "mosquitto.log"
        compose_conf = (REPO / "deploy" / "mosquitto.conf").read_text()
        log_lines = [line for line in compose_conf.splitlines() if line.startswith("log_")]
        port = free_port()
        config = root / "mosquitto.conf"
        config.write_text(
            "\n".join(
                [f"listener {port} 127.0.0.1", "allow_anonymous true"]
                + [re.sub(r"^log_dest file .*", f"log_dest file {log}", line) for line in log_lines]
            )
            + "\n"
        )
        env = {
            "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
            "BROKER_CONFIG": str(config),
            "BROKER_LOG": str(log),
            "BROKER_LOG_MAX_BYTES": "20000",
            "BROKER_EVERY_S": "0.2",
            "BROKER_FILES_FROM": str(root / "accounts"),
            "BROKER_FILES_TO": str(root / "private"),
            "SUITCASE_GID": str(CONTAINER_UID),
        }
        broker = subprocess.Popen(["/bin/sh", str(REPO / "deploy" / "mosquitto-run.sh")], env=env)
        try:
            wait_until(lambda: log.exists() and log.stat().st_gid == CONTAINER_UID, 10, "the log handed over")
            wait_until(lambda: log.stat().st_mode & 0o777 == 0o640, 5, "the log readable by its group")
            assert Path(f"/proc/{broker.pid}/comm").read_text().strip() == "mosquitto", "exec: it gets the signals"

            def read_as_ingest() -> str:
                done = subprocess.run(
                    ["cat", str(log)],
                    capture_output=True,
                    text=True,
                    preexec_fn=asuser.become(CONTAINER_UID, CONTAINER_UID),
                    check=True,
                )
                return done.stdout

            assert "mosquitto version" in read_as_ingest(), "its start, written as its own user"
            for n in range(60):  # some 400 bytes of debug lines each
                subprocess.run(["mosquitto_pub", "-p", str(port), "-q", "1", "-t", f"fill/{n}", "-m", "x"], check=True)
            wait_until((logs / "mosquitto.log.1").exists, 10, "the log rotated")
            subprocess.run(["mosquitto_pub", "-p", str(port), "-q", "1", "-t", "after/rotation", "-m", "x"], check=True)
            wait_until(lambda: "after/rotation" in log.read_text(), 10, "Mosquitto writes the new log")
            wait_until(lambda: log.stat().st_gid == CONTAINER_UID, 5, "the new log handed over")
            wait_until(lambda: "after/rotation" in read_as_ingest(), 5, "the ingest user reads the new log")
        finally:
            broker.terminate()
            broker.wait(timeout=10)
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.mark.skipif(os.getuid() != 0, reason="the script runs as root in the container, Mosquitto as its own user")
def test_the_compose_broker_reads_its_accounts_from_private_copies_and_takes_new_ones_without_a_restart() -> None:
    """#17 point 7: Mosquitto wants its password and ACL files its own and unreadable to others; the ingest
    container writes them (console credentials) and cannot signal the broker's container. The script keeps
    private copies, 0600 and Mosquitto's, and reloads the broker when the written ones change."""
    root = Path(tempfile.mkdtemp(prefix="suitcase-brokerfiles-"))
    try:
        root.chmod(0o755)
        accounts, private = root / "accounts", root / "private"
        accounts.mkdir()
        first, second = secrets.token_urlsafe(12), secrets.token_urlsafe(12)
        write_atomically(accounts / "passwd", password_file({"kit-1": hash_password(first)}), mode=0o644)
        write_atomically(accounts / "acl", device_acl(topic_root="suitcase", devices={"kit-1": "kit-1"}), mode=0o644)
        port = free_port()
        config = root / "mosquitto.conf"
        config.write_text(
            f"per_listener_settings true\nlistener {port} 127.0.0.1\nallow_anonymous false\n"
            f"password_file {private / 'passwd'}\nacl_file {private / 'acl'}\n"
        )
        env = {
            "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
            "BROKER_CONFIG": str(config),
            "BROKER_FILES_FROM": str(accounts),
            "BROKER_FILES_TO": str(private),
            "BROKER_LOG": str(root / "no.log"),
            "BROKER_EVERY_S": "0.2",
        }
        broker = subprocess.Popen(["/bin/sh", str(REPO / "deploy" / "mosquitto-run.sh")], env=env)

        def publishes(password: str) -> bool:
            command = ["mosquitto_pub", "-p", str(port), "-u", "kit-1", "-P", password, "-t", "suitcase/kit-1/up"]
            return subprocess.run([*command, "-m", "{}"], capture_output=True, timeout=10, check=False).returncode == 0

        try:
            wait_until(lambda: publishes(first), 10, "the broker up with the first password")
            for path in (private / "passwd", private / "acl"):
                assert (path.stat().st_uid, path.stat().st_mode & 0o777) == (_uid("mosquitto"), 0o600)
            assert private.stat().st_mode & 0o777 == 0o700
            write_atomically(accounts / "passwd", password_file({"kit-1": hash_password(second)}), mode=0o644)
            wait_until(lambda: publishes(second), 10, "the new password working, without a restart")
            assert not publishes(first)
            assert broker.poll() is None
            secret = root / "root-only"
            secret.write_text("not for the broker\n")
            secret.chmod(0o600)
            (accounts / "acl").unlink()
            (accounts / "acl").symlink_to(secret)  # what a compromised writer of ./var/mosquitto could plant
            time.sleep(1)  # five rounds of the script's loop
            assert "not for the broker" not in (private / "acl").read_text(), "a link is not followed as root"
        finally:
            broker.terminate()
            broker.wait(timeout=10)
        wait_until(lambda: not processes_with(f"BROKER_CONFIG={config}"), 10, "the script's loop gone with the broker")
    finally:
        shutil.rmtree(root, ignore_errors=True)


def processes_with(variable: str) -> list[int]:
    """The pids of the processes whose environment holds ``variable`` (NAME=value)."""
    found = []
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            if variable.encode() in environ.read_bytes().split(b"\0"):
                found.append(int(environ.parent.name))
        except OSError:
            continue  # gone meanwhile, or not ours to read
    return found


@pytest.mark.skipif(os.getuid() != 0, reason="the script runs as root in the container, Mosquitto as its own user")
def test_devices_reach_the_compose_broker_over_tls_with_the_certificate_init_makes() -> None:
    """#17 point 6: `suitcase init` makes a CA and a server certificate; the compose broker's TLS listener (the
    lines deploy/mosquitto.conf has) takes a device that checks the broker against ca.crt, and a client that
    does not trust that CA, or reaches it by a name the certificate does not carry, gets nowhere."""
    root = Path(tempfile.mkdtemp(prefix="suitcase-tls-"))
    try:
        root.chmod(0o755)

        def suitcase(*args: str) -> str:
            command = [sys.executable, "-m", "iot_suitcase", *args]
            return subprocess.run(command, cwd=root, capture_output=True, text=True, check=True, timeout=60).stdout

        suitcase("init", "--tls-name", "localhost", "--tls-name", "127.0.0.1")
        suitcase("devices", "add", "kit-1", "--model", "native", "--site", "harbour")
        password = json.loads(suitcase("devices", "credentials", "kit-1", "--json"))["mqtt_password"]
        certs, private = root / "var" / "certs", root / "private"
        assert (certs / "server.key").stat().st_uid == 0, "the keys stay root's: the ingest container mounts ./var"
        port = free_port()
        files = BrokerFiles(private / "passwd", private / "acl", private / "passwd-service", private / "acl-service")
        config = root / "mosquitto.conf"
        config.write_text("per_listener_settings true\n" + tls_listener_config(port, files, private / "certs"))
        env = {
            "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
            "BROKER_CONFIG": str(config),
            "BROKER_FILES_FROM": str(root / "var" / "mosquitto"),
            "BROKER_CERTS_FROM": str(certs),
            "BROKER_FILES_TO": str(private),
            "BROKER_LOG": str(root / "no.log"),
            "BROKER_EVERY_S": "0.2",
        }
        broker = subprocess.Popen(["/bin/sh", str(REPO / "deploy" / "mosquitto-run.sh")], env=env)

        def publish(host: str, *trust: str) -> int:
            command = ["mosquitto_pub", "-h", host, "-p", str(port), "-u", "kit-1", "-P", password, *trust]
            command += ["-t", "suitcase/kit-1/up", "-m", "{}", "-q", "1"]
            return subprocess.run(command, capture_output=True, timeout=10, check=False).returncode

        try:
            wait_until(lambda: publish("localhost", "--cafile", str(certs / "ca.crt")) == 0, 15, "a TLS publish")
            assert publish("127.0.0.1", "--cafile", str(certs / "ca.crt")) == 0, "the IP address is in it too"
            assert publish("localhost", "--capath", "/etc/ssl/certs") != 0, "a client without the CA trusts nothing"
            assert publish("localhost") != 0, "no plain MQTT on the TLS port"
            key = private / "certs" / "server.key"
            assert (key.stat().st_uid, key.stat().st_mode & 0o777) == (_uid("mosquitto"), 0o600)
        finally:
            broker.terminate()
            broker.wait(timeout=10)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _uid(user: str) -> int:
    return pwd.getpwnam(user).pw_uid


def strip_comments(config: str) -> str:
    return "\n".join(line for line in config.splitlines() if line and not line.startswith("#"))


def env_value(root: Path, key: str) -> str:
    return dict(line.split("=", 1) for line in (root / ".env").read_text().splitlines() if "=" in line)[key]


def mounts(service: dict[str, object]) -> list[tuple[str, str]]:
    """(source, target) of each volume in docker-compose's `config` output (short syntax)."""
    volumes: list[str] = service.get("volumes", [])  # type: ignore[assignment]
    return [(v.split(":")[0], v.split(":")[1]) for v in volumes]


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = (REPO / "Dockerfile").read_text().replace("\\\n", " ")
    return [
        (m.group(1).upper(), m.group(2).strip())
        for m in re.finditer(r"^(RUN|CMD|ENTRYPOINT|HEALTHCHECK|COPY|ENV|USER|ARG)\s+(.*)$", text, re.MULTILINE)
    ]


@pytest.mark.slow
def test_dockerfile_commands_work_in_a_fresh_virtualenv(
    tmp_path: Path, mosquitto: Mosquitto, influxdb: InfluxDB, influx_db: str
) -> None:
    app = tmp_path / "app"
    app.mkdir()
    instructions = dockerfile_instructions()
    assert ("USER", "suitcase") in instructions, "the image runs as a non-root user"
    for kind, argument in instructions:
        if kind == "COPY" and not argument.startswith("--from="):  # not the build stage's result
            *sources, _target = argument.split()
            for source in sources:
                path = REPO / source
                if path.is_dir():  # as Docker copies a folder: its links stay links
                    shutil.copytree(path, app / source, symlinks=True)
                else:
                    shutil.copy(path, app / source)
    environment = venv.EnvBuilder(with_pip=True)
    environment.create(tmp_path / "venv")
    bin_dir = tmp_path / "venv" / "bin"
    runs = [argument for kind, argument in instructions if kind == "RUN" and argument.startswith("pip ")]
    assert runs[0].startswith("pip install --no-cache-dir -c requirements.lock -r requirements.lock "), (
        "the image installs the locked versions"
    )
    assert runs[1] == "pip install --no-cache-dir --no-build-isolation --no-deps .", "and the project on them"
    build_args = dict(argument.split("=", 1) for kind, argument in instructions if kind == "ARG")
    assert build_args == {"SUITCASE_COMPILE": "1"}, "the image's hot path is compiled"
    for command in runs:
        subprocess.run(
            [str(bin_dir / "python"), "-m", *command.split()],
            cwd=app,
            check=True,
            timeout=600,
            capture_output=True,
            env={**os.environ, **build_args},
        )
    compiled = [str(bin_dir / "python"), "-c", "import iot_suitcase.compiled as c; print(c.STATUS)"]
    assert subprocess.run(compiled, cwd=tmp_path, check=True, capture_output=True, text=True).stdout == "compiled\n"
    entrypoint = yaml.safe_load(next(a for k, a in instructions if k == "ENTRYPOINT"))
    command = yaml.safe_load(next(a for k, a in instructions if k == "CMD"))
    assert [*entrypoint, *command] == ["suitcase", "ingest"]
    port = free_port()
    env = {
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "SUITCASE_DATA_DIR": str(tmp_path / "data"),
        "SUITCASE_REGISTRY_FILE": str(tmp_path / "registry.yaml"),
        "SUITCASE_HTTP_PORT": str(port),
        "SUITCASE_MQTT_PORT": str(mosquitto.port),
        "SUITCASE_MQTT_CLIENT_ID": unique("suitcase-ingest-docker-"),
        "SUITCASE_INFLUX_URL": influxdb.url,
        "SUITCASE_INFLUX_DATABASE": influx_db,
    }
    log = (tmp_path / "service.log").open("wb")
    service = subprocess.Popen(
        [str(bin_dir / entrypoint[0]), *command], cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        health = yaml.safe_load(next(a for k, a in instructions if k == "HEALTHCHECK").split(" CMD ", 1)[1])
        probe = [str(bin_dir / health[0]), *health[1:]]
        wait_until(
            lambda: subprocess.run(probe, env=env, check=False, capture_output=True).returncode == 0,
            60,
            "the Dockerfile's HEALTHCHECK to pass",
        )
    finally:
        service.terminate()
        assert service.wait(timeout=15) == 0
    assert subprocess.run(probe, env=env, check=False, capture_output=True).returncode == 1, "and fail when down"


@pytest.mark.skipif(not asuser.usable(), reason="root's `suitcase init`; Debian's python3.11 runs ingest as uid 10001")
def test_init_as_root_hands_var_to_a_user_who_is_not_root_and_ingest_runs_as_that_user(
    mosquitto: Mosquitto, influxdb: InfluxDB, influx_db: str
) -> None:
    """#17 point 1: the README has root run `suitcase init`; the containers must not run as root, and the one
    they run as must be able to write its data dir (a directory compose would otherwise make root's)."""
    root = Path(tempfile.mkdtemp(prefix="suitcase-init-"))  # outside pytest's 0700 temp tree: another user reads it
    try:
        root.chmod(0o755)
        subprocess.run([sys.executable, "-m", "iot_suitcase", "init"], cwd=root, check=True, capture_output=True)
        uid, gid = int(env_value(root, "SUITCASE_UID")), int(env_value(root, "SUITCASE_GID"))
        assert (uid, gid) == (CONTAINER_UID, CONTAINER_UID), "never root"
        for path in (root / "var", root / "var" / "ingest", root / "var" / "accounts.sqlite3"):
            assert path.stat().st_uid == uid, f"{path} belongs to the containers' user"
        env = {
            "PATH": "/usr/bin:/bin",
            "HOME": str(root),
            "SUITCASE_DATA_DIR": str(root / "var" / "ingest"),
            "SUITCASE_REGISTRY_FILE": str(root / "var" / "registry.yaml"),
            "SUITCASE_ACCOUNTS_FILE": str(root / "var" / "accounts.sqlite3"),
            "SUITCASE_MQTT_PORT": str(mosquitto.port),
            "SUITCASE_MQTT_CLIENT_ID": unique("suitcase-ingest-asuser-"),
            "SUITCASE_INFLUX_URL": influxdb.url,
            "SUITCASE_INFLUX_DATABASE": influx_db,
            "SUITCASE_HTTP_PORT": "0",
            **asuser.python_path(),
        }
        log = (root / "ingest.log").open("wb")
        service = subprocess.Popen(
            asuser.suitcase_command("ingest"),
            cwd=root / "var",  # not where .env is: compose hands the container its values, not the file (0600, root's)
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=asuser.become(uid, gid),  # noqa: PLW1509 (the user must be set in the child)
        )
        try:
            wait_until(lambda: "connected to broker" in (root / "ingest.log").read_text(), 60, "ingest as uid 10001")
            written = [p for p in (root / "var" / "ingest").rglob("*") if p.is_file()]
            assert written, "it wrote its log and stores"
            assert {p.stat().st_uid for p in written} == {uid}
        finally:
            service.terminate()
            assert service.wait(timeout=15) == 0, (root / "ingest.log").read_text()[-2000:]
    finally:
        shutil.rmtree(root, ignore_errors=True)
