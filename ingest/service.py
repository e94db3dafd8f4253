"""The ingest service: MQTT in, decode and validate, InfluxDB out; stops cleanly on SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

import paho.mqtt.client as paho

from devices.decode import Decoder
from ingest.config import IngestSettings
from ingest.influx import make_writer
from ingest.mqtt import MqttConsumer
from ingest.pipeline import Pipeline

log = logging.getLogger(__name__)


class IngestService:
    """Wires the consumer, the pipeline and the writer together; ``run`` returns after a clean stop."""

    def __init__(self, settings: IngestSettings) -> None:
        self.settings = settings
        self.decoder = Decoder(settings)
        self.writer = make_writer(settings)
        self.pipeline = Pipeline(
            self.decoder, self.writer, batch_size=settings.batch_size, batch_interval_s=settings.batch_interval_s
        )
        self.stop_event = asyncio.Event()
        self.consumer: MqttConsumer | None = None

    def _on_message(self, message: paho.MQTTMessage) -> None:
        consumer = self.consumer
        generation = consumer.generation if consumer else 0
        payload = message.payload if isinstance(message.payload, bytes) else bytes(message.payload)
        self.pipeline.submit(message.topic, payload, mid=message.mid, qos=message.qos, generation=generation)

    def stop(self) -> None:
        self.stop_event.set()

    async def run(self) -> None:
        await self.writer.start()
        self.consumer = MqttConsumer(self.settings, self.decoder.topic_filters(), self._on_message)
        self.pipeline.ack = self.consumer.ack
        writing = asyncio.create_task(self.pipeline.run())
        consuming = asyncio.create_task(self.consumer.run(self.stop_event))
        log.info("ingest service started influx=%s flavour=%s", self.settings.influx_url, self.settings.influx_flavour)
        try:
            await self.stop_event.wait()
        finally:
            log.info("stopping: flushing backlog=%d", self.pipeline.backlog)
            self.consumer.stop_reading()
            writing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writing
            try:
                await asyncio.wait_for(self.pipeline.drain(), self.settings.shutdown_timeout_s)
            except TimeoutError:
                log.warning(
                    "gave up flushing; the broker keeps the unacknowledged messages backlog=%d", self.pipeline.backlog
                )
            self.stop_event.set()
            await consuming
            await self.writer.close()
            stats = self.pipeline.stats
            log.info(
                "stopped received=%d stored_readings=%d rejected=%d",
                stats.received,
                stats.stored_readings,
                sum(stats.rejected.values()),
            )


async def serve(settings: IngestSettings) -> None:
    """Run the service until SIGTERM or SIGINT."""
    service = IngestService(settings)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, service.stop)
    await service.run()
