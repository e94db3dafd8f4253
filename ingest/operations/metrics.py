"""`/metrics` in Prometheus format: the pipeline's live counters, read at scrape time (prometheus-client)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from iot_suitcase.ingest.operations.figures import FigureSource
from iot_suitcase.ingest.sources.brokerlog import BrokerRefusals
from iot_suitcase.ingest.sources.refusals import RefusedRequests


class PipelineCollector(Collector):
    """Counters and gauges straight from the pipeline's figures: one source of truth, nothing counted twice."""

    def __init__(
        self, pipeline: FigureSource, connected: Callable[[], bool], throttled_s: Callable[[], float] = lambda: 0.0
    ) -> None:
        self._pipeline = pipeline
        self._connected = connected
        self._throttled_s = throttled_s

    def collect(self) -> Iterator[Metric]:
        s = self._pipeline.figures()
        counters: tuple[tuple[str, float, str], ...] = (
            ("suitcase_messages_received", s.received, "Messages received (MQTT and HTTP)."),
            ("suitcase_messages_acked", s.acked, "Messages logged and acknowledged."),
            ("suitcase_messages_duplicate", s.duplicates, "Broker redeliveries recognised and not stored again."),
            (
                "suitcase_messages_possible_duplicate",
                s.possible_duplicates,
                "Messages stored although they may repeat a stored one (the broker cannot tell; see README).",
            ),
            ("suitcase_messages_stored", s.stored_messages, "Messages whose readings InfluxDB accepted."),
            ("suitcase_readings_stored", s.stored_readings, "Readings InfluxDB accepted."),
            (
                "suitcase_values_skipped",
                s.skipped_values,
                "Values read past on purpose, not stored (SenML string records, fields a codec or map does not know).",
            ),
            ("suitcase_influx_write_errors", s.write_errors, "Failed InfluxDB writes (retried)."),
            (
                "suitcase_mqtt_throttled_seconds",
                self._throttled_s(),
                "Time MQTT reading waited for the intake quota (SUITCASE_MQTT_RATE_PER_S).",
            ),
        )
        for name, value, text in counters:
            yield CounterMetricFamily(name, text, value=value)
        rejected = CounterMetricFamily("suitcase_messages_rejected", "Rejected messages by reason.", labels=["reason"])
        for reason, count in sorted(s.rejected.items()):
            rejected.add_metric([str(reason)], count)
        yield rejected
        gauges: tuple[tuple[str, float, str], ...] = (
            ("suitcase_wal_backlog_records", s.backlog_records, "Log records not yet in InfluxDB."),
            ("suitcase_wal_backlog_bytes", s.backlog_bytes, "Log bytes not yet in InfluxDB."),
            ("suitcase_messages_held", s.held, "Messages received but not yet logged."),
            ("suitcase_influx_ok", int(s.influx_ok), "1 while InfluxDB accepts writes."),
            ("suitcase_wal_full", int(s.log_full), "1 while the log is at its bound (acks paused)."),
            ("suitcase_wal_writable", int(s.log_error is None), "0 while the log cannot be written (acks paused)."),
            ("suitcase_progress_writable", int(s.store_error is None), "0 while the checkpoint or rejects store fail."),
            ("suitcase_mqtt_connected", int(self._connected()), "1 while connected to the broker."),
            ("suitcase_influx_write_latency_ms", s.write_latency_ms, "Duration of the latest InfluxDB write."),
        )
        for name, value, text in gauges:
            yield GaugeMetricFamily(name, text, value=value)


class RefusalCollector(Collector):
    """HTTP requests refused, per status (the samples are on the status page and ``/api/refused``)."""

    def __init__(self, refusals: RefusedRequests) -> None:
        self._refusals = refusals

    def collect(self) -> Iterator[Metric]:
        refused = CounterMetricFamily(
            "suitcase_http_refused",
            "HTTP requests refused, by status (401, 403, 404, 413, 415, 429).",
            labels=["status"],
        )
        for status, count in sorted(self._refusals.counts.items()):
            refused.add_metric([str(status)], count)
        yield refused


class BrokerRefusalCollector(Collector):
    """What the broker refused, per kind, read from its log (the samples are on the console and
    ``/api/refused``): a rising count of refused logins is someone guessing passwords, or a device with old
    credentials."""

    def __init__(self, refusals: BrokerRefusals) -> None:
        self._refusals = refusals

    def collect(self) -> Iterator[Metric]:
        refused = CounterMetricFamily(
            "suitcase_broker_refused",
            "Logins (not_authorised) and publications (acl_denied) the broker refused, from its log.",
            labels=["kind"],
        )
        for kind, count in sorted(self._refusals.counts.items()):
            refused.add_metric([kind], count)
        yield refused


class Labelled(Collector):
    """Another collector's metrics with labels added to every sample. A tenant's service labels its figures
    ``tenant="<name>"``, so one Prometheus scraping every tenant's service keeps them apart; the installation's
    own service adds none, as before tenants."""

    def __init__(self, inner: Collector, labels: dict[str, str]) -> None:
        self._inner = inner
        self._labels = labels

    def collect(self) -> Iterator[Metric]:
        for family in self._inner.collect():
            family.samples = [sample._replace(labels={**sample.labels, **self._labels}) for sample in family.samples]
            yield family
