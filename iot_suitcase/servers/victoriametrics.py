"""A real single-node VictoriaMetrics (1.79) on a private loopback port.

VictoriaMetrics speaks the InfluxDB write protocol, so the ingest service can target it like an
InfluxDB v2. What was verified against victoria-metrics 1.79.5 on this machine:

* `POST /api/v2/write?org=o&bucket=b&precision=ns` with line protocol answers 204. `org` and
  `bucket` are IGNORED: no label is added for them. Only a `db` query argument (as in the 1.x
  `/write?db=x`) becomes a `db` label.
* `temperature,device=d1 value=21.5 <ns>` is exported as
  `{"metric": {"__name__": "temperature_value", "device": "d1"}, "values": [21.5],
  "timestamps": [<ms>]}`: the metric name is `<measurement>_<field>`, tags become labels, and one
  series exists per field (`a=1,b=2i` gives `m_a` and `m_b`). Timestamps are truncated to
  milliseconds. Integers and booleans become floats (true -> 1); a STRING field is stored as 0.
* Written samples are not readable at once: even with `/internal/force_flush` they appear in
  `/api/v1/export` only after about one second (up to ~10 s without a flush), so tests must poll;
  see `wait_for_samples`.
* A SIGKILL loses samples written in the last ~5-8 s even if they were already exported (they
  live in memory until the next periodic flush); a clean stop (SIGTERM) keeps everything.
"""

from __future__ import annotations

import json
import shutil
import time
import urllib.parse
from typing import Any

from iot_suitcase.servers.processes import ManagedProcess, http_request

ALL_SERIES = '{__name__!=""}'


class VictoriaMetrics(ManagedProcess):
    """`victoria-metrics` with data in `<data_dir>/data` and its log in `<data_dir>/victoria-metrics.log`.

    It opens only the HTTP listener: the Graphite/OpenTSDB/Influx-UDP listeners and self-scraping are
    off unless given flags, and this version has no telemetry.
    """

    name = "victoria-metrics"
    http_timeout = 30.0

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def command(self) -> list[str]:
        return [
            shutil.which("victoria-metrics") or "/usr/bin/victoria-metrics",
            f"-httpListenAddr={self.host}:{self.port}",
            f"-storageDataPath={self.data_dir / 'data'}",
            "-retentionPeriod=100y",  # simulators and tests write old timestamps; never drop them
            # Queries see the latest samples and never a cached answer: tests read right after writing.
            "-search.latencyOffset=0s",
            "-search.disableCache",
        ]

    def is_ready(self) -> bool:
        try:
            return http_request(f"{self.url}/health", timeout=1)[1].strip() == b"OK"
        except OSError:
            return False

    def write(self, lines: str | list[str], *, precision: str = "ns") -> None:
        """Write line protocol to the InfluxDB v2 endpoint (VictoriaMetrics ignores org and bucket)."""
        text = lines if isinstance(lines, str) else "\n".join(lines)
        url = f"{self.url}/api/v2/write?{urllib.parse.urlencode({'precision': precision})}"
        http_request(url, text.encode(), timeout=self.http_timeout)

    def force_flush(self) -> None:
        """Flush buffered samples to storage (they still take about a second to become searchable)."""
        http_request(f"{self.url}/internal/force_flush", timeout=self.http_timeout)

    def export(self, match: str = ALL_SERIES) -> list[dict[str, Any]]:
        """All series matching a selector: [{"metric": {labels}, "values": [...], "timestamps": [ms...]}]."""
        url = f"{self.url}/api/v1/export?{urllib.parse.urlencode({'match[]': match})}"
        body = http_request(url, timeout=self.http_timeout)[1]
        return [json.loads(line) for line in body.splitlines() if line.strip()]

    def wait_for_samples(self, samples: int, match: str = ALL_SERIES, *, timeout: float = 15.0) -> list[dict[str, Any]]:
        """Flush and export until at least `samples` samples match; return the last export either way.

        Returning instead of raising on timeout lets the caller's assertion show what did arrive.
        """
        deadline = time.monotonic() + timeout
        while True:
            self.force_flush()
            series = self.export(match)
            if sum(len(s["values"]) for s in series) >= samples or time.monotonic() > deadline:
                return series
            time.sleep(0.1)
