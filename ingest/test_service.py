"""No background task of the service dies silently (#13 point 2): logged, not ready, exit status 1."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from iot_suitcase.ingest.config import IngestSettings
from iot_suitcase.ingest.service import IngestService
from iot_suitcase.servers import InfluxDB, Mosquitto


@pytest.mark.parametrize("task", ["run_status", "run_drainer"])
async def test_a_background_task_that_dies_stops_the_service_loudly(
    task: str,
    tmp_path: Path,
    mosquitto: Mosquitto,
    influxdb: InfluxDB,
    influx_db: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = IngestSettings(
        mqtt_port=mosquitto.port,
        mqtt_client_id="suitcase-ingest-dies",
        influx_url=influxdb.url,
        influx_database=influx_db,
        data_dir=tmp_path / "data",
        registry_file=tmp_path / "registry.yaml",
        http_port=0,
    )
    service = IngestService(settings)
    problems: list[list[str]] = []

    async def dies() -> None:
        for _ in range(200):  # until connected (a busy machine takes more than a moment), at most 10 s
            if service.consumer.connected:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.2)
        assert service.pages is not None
        problems.append(service.pages.problems())
        raise RuntimeError("a bug nobody caught")

    setattr(service.pipeline, task, dies)
    with caplog.at_level(logging.ERROR):
        await asyncio.wait_for(service.run(), 30)
    assert service.exit_code == 1
    assert service.failure is not None
    assert "a bug nobody caught" in service.failure
    assert "background task stopped unexpectedly" in caplog.text
    assert "Traceback" in caplog.text or "RuntimeError" in caplog.text
    assert problems == [[]], "it was ready while the task ran"
