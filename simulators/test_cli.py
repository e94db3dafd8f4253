"""`suitcase simulate` without services: the summary agrees with the stream, registering, and refusals."""

from __future__ import annotations

import itertools
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from iot_suitcase.cli import main
from iot_suitcase.devices.registry import RegistryFile

DATA = Path(__file__).parent / "testdata"
START = "2026-11-01T08:00:00Z"


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_the_summary_counts_what_the_stream_holds(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stream, summary = tmp_path / "stream.jsonl", tmp_path / "summary.json"
    args = ["simulate", "--sites", "3", "--devices-per-site", "20", "--messages", "8", "--faults", "0.2"]
    args += ["--start", START, "--dry-run", "--output", str(stream), "--summary-json", str(summary)]
    assert main(args) == 0
    assert "valid readings" in capsys.readouterr().out
    sent = lines(stream)
    found = json.loads(summary.read_text())
    assert found["devices"] == 60
    assert found["seed"] == 1
    assert found["as_declared"]
    assert found["messages_sent"] == sum("topic" in m for m in sent) > 480
    assert found["valid_readings"] == sum(len(m["stores"]) for m in sent if "stores" in m)
    assert found["expected_rejects"] == dict(Counter(str(m["reject"]) for m in sent if "reject" in m))
    events = Counter(str(m["fault"]) for m in sent if "fault" in m)
    for kind, tally in found["faults"].items():
        assert tally["messages"] <= events[kind]
        assert (tally["injected"] > 0) == (events[kind] > 0)
    assert found["simulated_from"].startswith("2026-11-01T08:")


def test_a_rate_sets_the_interval_and_the_same_command_gives_the_same_lines(tmp_path: Path) -> None:
    outputs = []
    for name in ("a", "b"):
        out = tmp_path / f"{name}.jsonl"
        args = ["simulate", "--devices-per-site", "4", "--rate", "0.5", "--jitter", "0", "--skew", "0"]
        assert main([*args, "--messages", "3", "--start", START, "--dry-run", "--output", str(out)]) == 0
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1]
    times = sorted(
        {
            int(str(m["at_ms"]))
            for m in lines(tmp_path / "a.jsonl")
            if m["device"] == lines(tmp_path / "a.jsonl")[0]["device"]
        }
    )
    assert [b - a for a, b in itertools.pairwise(times)] == [2000] * (len(times) - 1)


def test_registering_is_idempotent_and_refuses_a_different_device(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    registry = tmp_path / "registry.yaml"
    args = [
        "simulate",
        "--sites",
        "dokk1,viby",
        "--devices-per-site",
        "6",
        "--register",
        str(registry),
        "--register-only",
    ]
    assert main(args) == 0
    assert main(args) == 0
    assert "registered 0 devices" in capsys.readouterr().err
    devices = RegistryFile(registry).load().devices
    assert len(devices) == 12
    assert {d.site for d in devices} == {"dokk1", "viby"}
    assert all(d.tags == {"simulated": "true"} and d.location is not None for d in devices)
    lorawan = [d for d in devices if d.model != "native"]
    assert lorawan
    assert all(d.dev_eui for d in lorawan)
    assert main([*args, "--model", "native"]) == 1
    assert "already registered as" in capsys.readouterr().err
    assert len(RegistryFile(registry).load().devices) == 12  # all or nothing


@pytest.mark.parametrize(
    ("extra", "complaint"),
    [
        (["--transport", "http", "--format", "chirpstack", "--messages", "2"], "cannot go over HTTP"),
        (["--register-only"], "needs --register"),
        (["--dry-run"], "give --duration or --messages"),
        (["--model", "elsys/ers", "--format", "senml", "--messages", "1"], "give --format with one of chirpstack, tts"),
        (["--kind", "weather,nonsense", "--messages", "1"], "unknown kind nonsense"),
        (["--faults", "0.9", "--fault", "late=0.5", "--messages", "1", "--dry-run"], "add up to at most 1"),
    ],
)
def test_mistakes_are_refused_with_the_fix(
    extra: list[str], complaint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["simulate", *extra]) == 1
    assert complaint in capsys.readouterr().err


def test_options_before_the_word_replay_still_count(tmp_path: Path) -> None:
    out = tmp_path / "replay.jsonl"
    replay = ["replay", str(DATA / "aarhus-weather-sample.csv"), "--column", "tempm=temperature"]
    replay += ["--time-column", "TIMESTAMP", "--device", "w1", "--dry-run", "--output", str(out), "--limit", "3"]
    assert main(["simulate", "--topic-root", "early", *replay]) == 0
    assert {m["topic"] for m in lines(out)} == {"early/w1/up"}
    assert main(["simulate", *replay, "--topic-root", "late"]) == 0
    assert {m["topic"] for m in lines(out)} == {"late/w1/up"}
