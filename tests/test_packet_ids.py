"""#20 point 4: a drain of a backlog the broker queued keeps at most one redelivery key per packet id, not one per
queued message. Mosquitto answers a PINGREQ only after the session's whole queue, so before a packet id given
to another message confirmed the one that had it (``ingest/wal/redelivery.py``), every key of the backlog stayed
recognisable until the drain ended: the 1,000,000-message benchmark's memory grew with it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from iot_suitcase.ingest.config import IngestSettings
from iot_suitcase.ingest.service import IngestService
from iot_suitcase.servers import InfluxDB, Mosquitto
from tests.helpers import publish_all, unique

PACKET_IDS = 65_535
BACKLOG = 2 * PACKET_IDS + 10_000


async def run_until(service: IngestService, done: Callable[[], bool]) -> None:
    """Run ``service`` until ``done()`` holds, then stop it cleanly."""
    running = asyncio.create_task(service.run())
    try:
        for _ in range(2400):
            if done():
                return
            await asyncio.sleep(0.05)
        raise AssertionError("the service did not get there in 120 s")
    finally:
        service.stop()
        await asyncio.wait_for(running, 30)


async def test_a_drain_of_a_queued_backlog_keeps_at_most_one_key_per_packet_id(
    tmp_path: Path, mosquitto_factory: Callable[..., Mosquitto], influxdb: InfluxDB, influx_db: str
) -> None:
    # a broker of its own: on the suite's shared one, every persistent session an earlier test's service left
    # behind would queue its own copy of the backlog, and the broker's persistence would spend its time on those
    mosquitto = mosquitto_factory()
    settings = IngestSettings(
        mqtt_port=mosquitto.port,
        mqtt_client_id=unique("suitcase-ingest-packet-ids-"),
        influx_url=influxdb.url,
        influx_database=influx_db,
        data_dir=tmp_path / "data",
        registry_file=tmp_path / "registry.yaml",
        unknown_devices="accept",
        http_port=0,
    )
    first = IngestService(settings)
    await run_until(first, lambda: first.consumer.connected)  # its session and subscription, kept by the broker
    messages = [
        (f"suitcase/dev-{n % 20}/up", json.dumps({"readings": {"temperature": n % 8000 / 100}}).encode())
        for n in range(BACKLOG)
    ]
    for start in range(0, BACKLOG, 50_000):  # a publisher's own packet ids run out beyond 65,535 in flight
        await asyncio.to_thread(publish_all, mosquitto.host, mosquitto.port, messages[start : start + 50_000])

    second = IngestService(settings)
    redeliveries = second.pipeline.redeliveries
    peak = 0
    submit = second.pipeline.submit  # the intake's, which makes each message's key recognisable

    def counting(*message: Any, **details: Any) -> Any:
        nonlocal peak
        entry = submit(*message, **details)
        peak = max(peak, len(redeliveries))
        return entry

    # an observer where the consumer hands each message on, not a mock (the intake and the redelivery table are
    # compiled: no attribute of theirs can be replaced)
    second.consumer.deliver_to(counting)
    figures = second.pipeline.intake.figures
    await run_until(
        second, lambda: figures.received >= BACKLOG and not second.pipeline.held and not second.wal.backlog_records
    )

    assert figures.received == BACKLOG, "the whole backlog came in this drain"
    assert influxdb.count(influx_db, "temperature") == BACKLOG, "every queued message stored once"
    assert (figures.duplicates, figures.possible_duplicates) == (0, 0), "no message taken for another"
    assert 0 < peak <= PACKET_IDS, f"{peak} keys recognisable at once during a drain of {BACKLOG}"
