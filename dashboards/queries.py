# ruff: noqa: S608 - this module builds InfluxQL on purpose; every name and value goes through quote_ident,
# quote_string or regex_any_of, and the tests run each query against a real InfluxDB.
"""The InfluxQL of every panel and alert rule, against the schema the ingest service writes.

Schema (see the repository README): one measurement per catalog quantity with tags device, site, kind,
model and the float field ``value``; ``suitcase_uplinks`` (device, site, interval_s, format; readings, bytes)
per stored message; ``suitcase_rejects`` (reason, device, site; count) per rejected message;
``suitcase_pipeline`` (worker; counters and gauges) every 10 s per ingest worker; ``suitcase_devices``
(device; name, site, kind, model, interval_s, lat, lon, located, registered), the registry as the ingest
service publishes it. No query lists device ids, so no query grows with the fleet.

Dashboard queries use Grafana's macros (``$timeFilter``, ``$__interval``, ``$__interval_ms``) and the
dashboard variables in their ``regex`` format (``/^${site:regex}$/``): that format is applied by Grafana
itself, the same for every Grafana version and datasource, and with the custom "All" value ``.*`` it
matches every site without listing them. Alert rules cannot use dashboard variables.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from iot_suitcase.dashboards.display import Aggregate
from iot_suitcase.dashboards.influxql import quote_ident, quote_string

UPLINKS = "suitcase_uplinks"
REJECTS = "suitcase_rejects"
PIPELINE = "suitcase_pipeline"
DEVICES = "suitcase_devices"

SITE_FILTER = '"site" =~ /^${site:regex}$/'
DEVICE_FILTER = '"device" =~ /^${device:regex}$/'
WORKER_FILTER = '"worker" =~ /^${worker:regex}$/'

# How far back a device still counts as part of the fleet for silence checks: one silent for longer
# drops out of the "silent" alert and table (it is still on the map and in `suitcase devices list`).
SILENCE_LOOKBACK = "30d"
# A device is silent after this many reporting intervals without an uplink.
SILENCE_FACTOR = 3
# How far back the registry's devices are read: the ingest service publishes them at start, on every change
# and every 6 hours, so this only matters when it has been down for that long.
DEVICES_LOOKBACK = "30d"


@dataclass(frozen=True)
class Queries:
    """Query texts for one InfluxDB database; ``retention_policy`` qualifies every measurement if given."""

    retention_policy: str | None = None

    def measurement(self, name: str) -> str:
        if self.retention_policy:
            return f"{quote_ident(self.retention_policy)}.{quote_ident(name)}"
        return quote_ident(name)

    # --- dashboard variables ---------------------------------------------------------------------------
    def site_values(self) -> str:
        return f'SHOW TAG VALUES FROM {self.measurement(UPLINKS)} WITH KEY = "site"'

    def device_values(self) -> str:
        return f'SHOW TAG VALUES FROM {self.measurement(UPLINKS)} WITH KEY = "device" WHERE {SITE_FILTER}'

    def worker_values(self) -> str:
        return f'SHOW TAG VALUES FROM {self.measurement(PIPELINE)} WITH KEY = "worker"'

    # --- quantities ----------------------------------------------------------------------------------------
    def latest_per_device(self, quantity: str) -> str:
        """Newest reading of each device at the chosen sites (the overview's row repeated per site)."""
        return (
            f'SELECT last("value") AS "value" FROM {self.measurement(quantity)} '
            f'WHERE {SITE_FILTER} AND {DEVICE_FILTER} AND $timeFilter GROUP BY "device"'
        )

    def series_per_device(self, quantity: str, aggregate: Aggregate, *, kind: str | None = None) -> str:
        """One line per device, one point per ``$__interval`` bucket (kind dashboards, device health)."""
        kind_filter = f'"kind" = {quote_string(kind)} AND ' if kind else ""
        return (
            f'SELECT {aggregate.value}("value") AS "value" FROM {self.measurement(quantity)} '
            f"WHERE {kind_filter}{SITE_FILTER} AND {DEVICE_FILTER} AND $timeFilter "
            f'GROUP BY time($__interval), "device" fill(none)'
        )

    def daily_mean_per_device(self, quantity: str, *, kind: str | None = None) -> str:
        """Daily means (UTC days), to compare with guidance defined as 24-hour means."""
        kind_filter = f'"kind" = {quote_string(kind)} AND ' if kind else ""
        return (
            f'SELECT mean("value") AS "value" FROM {self.measurement(quantity)} '
            f"WHERE {kind_filter}{SITE_FILTER} AND {DEVICE_FILTER} AND $timeFilter "
            f'GROUP BY time(1d), "device" fill(none)'
        )

    def model_series(self, quantity: str, model: str) -> str:
        """One quantity of the devices of one model (battery voltage against a model's threshold)."""
        return (
            f'SELECT last("value") AS "value" FROM {self.measurement(quantity)} '
            f'WHERE "model" = {quote_string(model)} AND {SITE_FILTER} AND {DEVICE_FILTER} AND $timeFilter '
            f'GROUP BY time($__interval), "device" fill(none)'
        )

    # --- the registry ------------------------------------------------------------------------------------
    def located_devices(self) -> str:
        """The registered devices with a location at the chosen sites, with their name, kind, model and interval
        (the map). Each field's newest value; a device that left the registry has ``registered`` 0."""
        fields = ("name", "site", "kind", "model", "interval_s", "lat", "lon")
        newest = ", ".join(
            f"last({quote_ident(name)}) AS {quote_ident(name)}" for name in (*fields, "located", "registered")
        )
        inner = (
            f"SELECT {newest} FROM {self.measurement(DEVICES)} WHERE time > now() - {DEVICES_LOOKBACK} "
            'GROUP BY "device"'
        )
        return (
            f"SELECT {', '.join(quote_ident(name) for name in fields)} FROM ({inner}) "
            f'WHERE "registered" = 1 AND "located" = 1 AND {SITE_FILTER} GROUP BY "device"'
        )

    # --- uplinks and rejects -------------------------------------------------------------------------------
    def last_seen(self) -> str:
        """Newest uplink of each device within the silence lookback (table; its time is the last-seen time)."""
        return (
            f'SELECT last("readings") AS "readings", last("bytes") AS "bytes" FROM {self.measurement(UPLINKS)} '
            f"WHERE {SITE_FILTER} AND {DEVICE_FILTER} AND time > now() - {SILENCE_LOOKBACK} "
            f'GROUP BY "device", "site"'
        )

    def messages_per_minute(self) -> str:
        return (
            f'SELECT count("readings") * 60000 / $__interval_ms AS "messages" FROM {self.measurement(UPLINKS)} '
            f"WHERE {SITE_FILTER} AND {DEVICE_FILTER} AND $timeFilter "
            f'GROUP BY time($__interval), "device" fill(0)'
        )

    def rejects_per_reason(self, *, filtered: bool = True) -> str:
        """Rejected messages per reason code and bucket (``filtered``: by the site and device variables)."""
        where = f"{SITE_FILTER} AND {DEVICE_FILTER} AND " if filtered else ""
        return (
            f'SELECT sum("count") AS "rejects" FROM {self.measurement(REJECTS)} WHERE {where}$timeFilter '
            f'GROUP BY time($__interval), "reason" fill(none)'
        )

    def uplinks_in_silence_window(
        self, intervals: Sequence[int], *, extra_filter: str = "", silent_only: bool = False
    ) -> str:
        """Uplinks of each device within ``SILENCE_FACTOR`` x its own reporting interval, 0 for none.

        InfluxDB cannot return a row for a series that has no points, and it does not join measurements. So per
        reporting interval in the registry two subqueries are unioned, both on the uplinks tagged with that
        interval (the ingest service tags each with its device's): the count inside the window, and a zero for
        every such device heard within the lookback. ``max`` per device then gives the count, or 0 for a silent
        device; ``interval_s`` carries the expected interval along. ``silent_only`` keeps the rows whose count
        is 0. The query grows with the number of distinct intervals, never with the number of devices.
        """
        if not intervals:
            raise ValueError("no devices: there is nothing to be silent")
        table = self.measurement(UPLINKS)
        condition = f" AND {extra_filter}" if extra_filter else ""
        parts = []
        for interval in sorted(set(intervals)):
            devices = f'"interval_s" = {quote_string(str(interval))}{condition}'
            parts.append(
                f'(SELECT count("readings") AS "uplinks" FROM {table} '
                f'WHERE time > now() - {SILENCE_FACTOR * interval}s AND {devices} GROUP BY "device", "site")'
            )
            parts.append(
                f'(SELECT last("readings") * 0 AS "uplinks", last("readings") * 0 + {interval} AS "interval_s" '
                f'FROM {table} WHERE time > now() - {SILENCE_LOOKBACK} AND {devices} GROUP BY "device", "site")'
            )
        union = (
            f'SELECT max("uplinks") AS "uplinks", max("interval_s") AS "interval_s" FROM {", ".join(parts)} '
            f'GROUP BY "device", "site"'
        )
        if not silent_only:
            return union
        return f'SELECT "uplinks", "interval_s" FROM ({union}) WHERE "uplinks" = 0 GROUP BY "device", "site"'

    def uplinks_for_silence_alert(self, intervals: Sequence[int]) -> str:
        """The uplink counts alone: Grafana's rule evaluator makes a frame of each field, and two frames with
        one device's labels (``uplinks`` and ``interval_s``) put the rule in Error."""
        return f'SELECT "uplinks" FROM ({self.uplinks_in_silence_window(intervals)}) GROUP BY "device", "site"'

    # --- pipeline ------------------------------------------------------------------------------------------
    def counter_rate(self, field: str) -> str:
        """Per-second rate of a counter per worker; a worker restart (counter reset) is skipped, not negative."""
        return (
            f"SELECT non_negative_derivative(last({quote_ident(field)}), 1s) AS {quote_ident(field)} "
            f"FROM {self.measurement(PIPELINE)} WHERE {WORKER_FILTER} AND $timeFilter "
            f'GROUP BY time($__interval), "worker" fill(none)'
        )

    def gauge(self, field: str, aggregate: str = "last") -> str:
        return (
            f"SELECT {aggregate}({quote_ident(field)}) AS {quote_ident(field)} FROM {self.measurement(PIPELINE)} "
            f'WHERE {WORKER_FILTER} AND $timeFilter GROUP BY time($__interval), "worker" fill(none)'
        )

    def latest_gauge(self, field: str) -> str:
        return (
            f"SELECT last({quote_ident(field)}) AS {quote_ident(field)} FROM {self.measurement(PIPELINE)} "
            f'WHERE {WORKER_FILTER} AND $timeFilter GROUP BY "worker"'
        )

    # --- alert rules (no dashboard variables) --------------------------------------------------------------
    def alert_mean_per_device(self, quantity: str) -> str:
        """Mean over the rule's time range per device: the range is the guidance's averaging window."""
        return (
            f'SELECT mean("value") AS "value" FROM {self.measurement(quantity)} WHERE $timeFilter '
            f'GROUP BY "device", "site"'
        )

    def alert_latest_per_device(self, quantity: str, *, model: str | None = None) -> str:
        model_filter = f'"model" = {quote_string(model)} AND ' if model else ""
        return (
            f'SELECT last("value") AS "value" FROM {self.measurement(quantity)} WHERE {model_filter}$timeFilter '
            f'GROUP BY "device", "site"'
        )
