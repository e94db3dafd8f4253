"""No default secret anywhere: `suitcase init` makes fresh ones, and the repository holds none."""

from __future__ import annotations

import re
import stat
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).parent.parent
KNOWN_DEFAULTS = {"admin", "password", "changeme", "secret", "root", "guest", "influxdb", "grafana", "mosquitto", ""}
SECRET_KEYS = ("PASSWORD", "TOKEN")


def init(env_file: Path) -> dict[str, str]:
    result = subprocess.run(
        [sys.executable, "-m", "iot_suitcase", "init", "--env-file", str(env_file)],
        capture_output=True,
        text=True,
        check=True,
        cwd=env_file.parent,
        timeout=30,
    )
    values = dict(line.split("=", 1) for line in env_file.read_text().splitlines() if line and not line.startswith("#"))
    for key, value in values.items():
        if key.endswith(SECRET_KEYS):
            assert value not in result.stdout + result.stderr, f"{key} was printed"
    return values


def test_init_writes_fresh_secrets_each_time(tmp_path: Path) -> None:
    first, second = init(tmp_path / "a.env"), init(tmp_path / "b.env")
    secrets_first = {k: v for k, v in first.items() if k.endswith(SECRET_KEYS)}
    assert set(secrets_first) >= {
        "SUITCASE_MQTT_PASSWORD",
        "SUITCASE_SIMULATOR_MQTT_PASSWORD",
        "SUITCASE_INFLUX_PASSWORD",
        "SUITCASE_INFLUX_READ_PASSWORD",
        "SUITCASE_METRICS_TOKEN",
        "GF_SECURITY_ADMIN_PASSWORD",
        "INFLUXDB_ADMIN_PASSWORD",
    }
    for key, value in secrets_first.items():
        assert value != second[key], f"{key} must differ between two runs"
        assert value.lower() not in KNOWN_DEFAULTS
        assert len(value) >= 24
    assert stat.S_IMODE((tmp_path / "a.env").stat().st_mode) == 0o600
    service = (tmp_path / "var" / "mosquitto" / "passwd-service").read_text()
    assert service.startswith("suitcase-ingest:$7$"), "init writes the service listener's password file"
    assert service.count("\n") == 1, "which holds the ingest account alone"
    passwd = (tmp_path / "var" / "mosquitto" / "passwd").read_text()
    assert "suitcase-ingest" not in passwd, "the device listener does not know the ingest account"
    assert second["SUITCASE_MQTT_PASSWORD"] not in passwd + service
    assert passwd.startswith("suitcase-simulator:$7$"), "the demo fleet's broker user is a device-listener user"


def test_broker_files_follow_the_env_file(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    init(env)
    acl = tmp_path / "var" / "mosquitto" / "acl"
    assert "user suitcase-simulator\ntopic write suitcase/#\n" in acl.read_text()
    kept = [line for line in env.read_text().splitlines() if "SIMULATOR" not in line]
    env.write_text("\n".join(kept) + "\n")
    subprocess.run(
        [sys.executable, "-m", "iot_suitcase", "init", "--env-file", str(env), "--broker-files"],
        capture_output=True,
        check=True,
        cwd=tmp_path,
    )
    assert "suitcase-simulator" not in acl.read_text(), "no simulator password, no simulator user"
    assert "suitcase-simulator" not in (tmp_path / "var" / "mosquitto" / "passwd").read_text()
    assert "suitcase-ingest" not in acl.read_text(), "the ingest account is not a device-listener account"
    assert "user suitcase-ingest\ntopic read suitcase/#\n" in (acl.parent / "acl-service").read_text()


def test_init_does_not_overwrite_without_force(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    first = init(env)
    again = subprocess.run(
        [sys.executable, "-m", "iot_suitcase", "init", "--env-file", str(env)],
        capture_output=True,
        check=False,
        cwd=env.parent,
    )
    assert again.returncode == 1
    assert init_values(env) == first


def init_values(env: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in env.read_text().splitlines() if line and not line.startswith("#"))


# `password = "..."`, `token: '...'`, `SECRET=...` with a literal of 8+ characters: what a leaked secret looks like.
LITERAL_SECRET = re.compile(
    r"""(?i)\b[\w.-]*(password|passwd|secret|token|api_key|apikey)[\w-]*["']?\s*[:=]\s*["']([^"'\s$}{]{8,})["']"""
)


# Not credentials: The Things Stack's `uplink_token` is opaque gateway routing metadata in its public examples.
NOT_SECRETS = ("uplink_token",)


def test_repository_holds_no_hard_coded_secret() -> None:
    tracked = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    found = []
    for name in tracked.split():
        path = REPO / name
        # this file plants examples for the scanner's own test below
        if path.suffix in {".png", ".sqlite3"} or not path.is_file() or name == "tests/test_secrets.py":
            continue
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            match = LITERAL_SECRET.search(line)
            if match and not any(key in match.group(0) for key in NOT_SECRETS):
                found.append(f"{name}:{number}: {line.strip()[:100]}")
    assert not found, "hard-coded secrets:\n" + "\n".join(found)


def test_the_scanner_finds_a_planted_secret() -> None:
    assert LITERAL_SECRET.search('influx_password = "hunter2hunter2"')
    assert LITERAL_SECRET.search("GF_SECURITY_ADMIN_PASSWORD: 'Sup3rS3cretValue'")
    assert not LITERAL_SECRET.search("password = settings.mqtt_password.get_secret_value()")
    assert LITERAL_SECRET.search('"uplink_token": "CiIKIAoUZXVpLTAy"')  # matched, then allowed by name
