"""Test helpers: the ingest service as a real subprocess, and a real QoS 1 MQTT publisher."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


def wait_until(condition: Callable[[], bool], timeout: float, what: str, interval: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


class IngestProcess:
    """`python -m iot_suitcase ingest` with SUITCASE_* settings, its stderr in a log file."""

    def __init__(self, log_path: Path, settings: dict[str, str]) -> None:
        self.log_path = log_path
        defaults = {
            "data_dir": str(log_path.parent / "ingest-data"),
            # tests that are not about the registry run without one and accept every device
            "registry_file": str(log_path.parent / "registry.yaml"),
            "accounts_file": str(log_path.parent / "accounts.sqlite3"),
            "unknown_devices": "accept",
            "http_port": "0",  # any free port: several services run at once
        }
        settings = {**defaults, **settings}
        self.env = {**os.environ, **{f"SUITCASE_{k.upper()}": v for k, v in settings.items()}}
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> IngestProcess:
        with self.log_path.open("ab") as log:
            self.proc = proc = subprocess.Popen(
                [sys.executable, "-m", "iot_suitcase", "ingest"],
                env=self.env,
                stdout=log,
                stderr=log,
            )
        offset = self.log_path.stat().st_size
        wait_until(
            lambda: "connected to broker" in self.log()[offset:] or proc.poll() is not None,
            30,
            "the ingest service to connect",
        )
        assert proc.poll() is None, f"ingest exited early:\n{self.log()}"
        return self

    @property
    def http_url(self) -> str:
        """Where this process serves HTTP (it logs the port it got)."""
        ports = re.findall(r"http server listening host=(\S+) port=(\d+)(?: scheme=(\w+))?", self.log())
        assert ports, "the service does not serve HTTP"
        host, port, scheme = ports[-1]
        return f"{scheme or 'http'}://{host}:{port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def terminate(self, timeout: float = 10.0) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def publish_all(host: str, port: int, messages: Iterable[tuple[str, bytes]], timeout: float = 120) -> int:
    """Publish at QoS 1 with a real paho client and wait until the broker acknowledged every message."""
    client = paho.Client(
        callback_api_version=CallbackAPIVersion.VERSION2, client_id=unique("pub-"), protocol=MQTTProtocolVersion.MQTTv5
    )
    client.max_queued_messages_set(0)
    client.max_inflight_messages_set(100)
    acked = threading.Semaphore(0)
    client.on_publish = lambda *_args: acked.release()
    client.connect(host, port)
    client.loop_start()
    try:
        count = 0
        for topic, payload in messages:
            info = client.publish(topic, payload, qos=1)
            assert info.rc == paho.MQTT_ERR_SUCCESS, f"publish failed: {info.rc}"
            count += 1
        deadline = time.monotonic() + timeout
        for _ in range(count):
            assert acked.acquire(timeout=max(0.1, deadline - time.monotonic())), "broker did not ack every publish"
        return count
    finally:
        client.disconnect()
        client.loop_stop()
