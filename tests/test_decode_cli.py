"""`suitcase decode` as a user runs it: one payload on stdin, JSON Lines or one error object out."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

SUITCASE = [sys.executable, "-m", "iot_suitcase"]
TOPIC = "suitcase/kit-01/up"


def run(*args: str, stdin: bytes, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([*SUITCASE, *args], input=stdin, capture_output=True, check=False, env=env, timeout=30)


def test_decode_prints_one_json_line_per_reading() -> None:
    result = run("decode", "--topic", TOPIC, stdin=b'{"readings": {"temperature": 21.5, "humidity": 40}}')
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(r["device_id"], r["quantity"], r["value"], r["unit"]) for r in lines] == [
        ("kit-01", "temperature", 21.5, "degC"),
        ("kit-01", "humidity", 40.0, "%"),
    ]
    assert all(set(r) == {"device_id", "time", "quantity", "value", "unit"} for r in lines)
    assert lines[0]["time"].endswith("Z")


ACCEPTANCE_REJECTS = {
    "malformed_json": b'{"readings": {"temperature": 21.5,',
    "wrong_type": b'{"readings": {"temperature": "warm"}}',
    "not_finite": b'{"readings": {"temperature": NaN, "humidity": Infinity}}',
    "out_of_range": b'{"readings": {"humidity": 140}}',
    "unknown_quantity": b'{"readings": {"happiness": 7}}',
    "unknown_unit": b'{"readings": {"temperature": {"value": 20, "unit": "degR"}}}',
    "empty_payload": b"",
    "payload_too_large": b'{"readings": {"temperature": 1}}' + b" " * (64 * 1024),
}


@pytest.mark.parametrize(("code", "payload"), ACCEPTANCE_REJECTS.items())
def test_decode_rejects_each_bad_payload_with_its_own_code(code: str, payload: bytes) -> None:
    result = run("decode", "--topic", TOPIC, stdin=payload)
    assert result.returncode == 1
    error = json.loads(result.stdout)
    assert set(error) == {"error", "reason"}
    assert error["error"] == code
    assert error["reason"]


def test_codes_are_all_different() -> None:
    assert len(set(ACCEPTANCE_REJECTS)) == len(ACCEPTANCE_REJECTS)


def test_size_limit_is_configurable_by_flag_and_environment() -> None:
    payload = b'{"readings": {"temperature": 1}}'
    by_flag = run("decode", "--topic", TOPIC, "--max-payload-bytes", "16", stdin=payload)
    assert json.loads(by_flag.stdout)["error"] == "payload_too_large"
    env = {**os.environ, "SUITCASE_MAX_PAYLOAD_BYTES": "16"}
    by_env = run("decode", "--topic", TOPIC, stdin=payload, env=env)
    assert json.loads(by_env.stdout)["error"] == "payload_too_large"
    bigger = {**os.environ, "SUITCASE_MAX_PAYLOAD_BYTES": str(128 * 1024)}
    assert run("decode", "--topic", TOPIC, stdin=ACCEPTANCE_REJECTS["payload_too_large"], env=bigger).returncode == 0


def test_decode_without_topic_needs_the_device_in_the_payload() -> None:
    ok = run("decode", stdin=b'{"device": "kit-02", "readings": {"co2": 700}}')
    assert ok.returncode == 0
    assert json.loads(ok.stdout)["device_id"] == "kit-02"
    missing = run("decode", stdin=b'{"readings": {"co2": 700}}')
    assert json.loads(missing.stdout)["error"] == "missing_device"


def test_schema_command_prints_the_json_schema() -> None:
    result = run("schema", stdin=b"")
    assert result.returncode == 0
    schema = json.loads(result.stdout)
    assert schema["title"] == "iot-suitcase native payload"
    assert set(schema["properties"]) == {"device", "time", "readings"}
