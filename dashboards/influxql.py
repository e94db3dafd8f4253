"""InfluxQL targets for grafana-foundation-sdk, which has no InfluxDB query type, and safe InfluxQL literals.

``InfluxQuery`` is registered as the dataquery variant of the ``influxdb`` datasource type (as the SDK's
custom-query example does), so a dashboard read back through the SDK's model gets typed InfluxQL targets
again. Fields this class does not model are kept as they came, so reading a dashboard that Grafana or a
person extended loses nothing either.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal, Self

from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import runtime as cogruntime
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.cog.plugins import register_default_plugins
from grafana_foundation_sdk.models import dashboard as dashboard_model

INFLUXDB_TYPE = "influxdb"

ResultFormat = Literal["time_series", "table", "logs"]

_MODELLED = {"refId", "hide", "datasource", "query", "rawQuery", "resultFormat", "alias", "intervalMs", "maxDataPoints"}


class InfluxQuery(cogvariants.Dataquery):
    """A raw InfluxQL target of Grafana's InfluxDB datasource (``rawQuery: true``)."""

    def __init__(
        self,
        query: str = "",
        *,
        ref_id: str | None = None,
        hide: bool | None = None,
        datasource: dashboard_model.DataSourceRef | None = None,
        raw_query: bool = True,
        result_format: ResultFormat = "time_series",
        alias: str | None = None,
        interval_ms: int | None = None,
        max_data_points: int | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        self.query = query
        self.ref_id = ref_id
        self.hide = hide
        self.datasource = datasource
        self.raw_query = raw_query
        self.result_format: ResultFormat = result_format
        self.alias = alias
        self.interval_ms = interval_ms
        self.max_data_points = max_data_points
        self.extra = dict(extra or {})

    def to_json(self) -> dict[str, object]:
        payload: dict[str, object] = dict(self.extra)
        payload.update({"query": self.query, "rawQuery": self.raw_query, "resultFormat": self.result_format})
        optional: dict[str, object | None] = {
            "refId": self.ref_id,
            "hide": self.hide,
            "datasource": self.datasource,
            "alias": self.alias,
            "intervalMs": self.interval_ms,
            "maxDataPoints": self.max_data_points,
        }
        payload.update({key: value for key, value in optional.items() if value is not None})
        return payload

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Self:
        source = data.get("datasource")
        return cls(
            data.get("query", ""),
            ref_id=data.get("refId"),
            hide=data.get("hide"),
            datasource=None if source is None else dashboard_model.DataSourceRef.from_json(source),
            raw_query=data.get("rawQuery", True),
            result_format=data.get("resultFormat", "time_series"),
            alias=data.get("alias"),
            interval_ms=data.get("intervalMs"),
            max_data_points=data.get("maxDataPoints"),
            extra={key: value for key, value in data.items() if key not in _MODELLED},
        )


class InfluxQueryBuilder(cogbuilder.Builder[InfluxQuery]):
    """Builds an ``InfluxQuery`` the way the SDK's own query builders do."""

    def __init__(self, query: str) -> None:
        self._internal = InfluxQuery(query)

    def build(self) -> InfluxQuery:
        return self._internal

    def ref_id(self, ref_id: str) -> Self:
        self._internal.ref_id = ref_id
        return self

    def datasource(self, datasource: dashboard_model.DataSourceRef) -> Self:
        self._internal.datasource = datasource
        return self

    def result_format(self, result_format: ResultFormat) -> Self:
        self._internal.result_format = result_format
        return self

    def alias(self, alias: str) -> Self:
        self._internal.alias = alias
        return self

    def hide(self, hide: bool) -> Self:
        self._internal.hide = hide
        return self

    def interval_ms(self, interval_ms: int) -> Self:
        self._internal.interval_ms = interval_ms
        return self

    def max_data_points(self, max_data_points: int) -> Self:
        self._internal.max_data_points = max_data_points
        return self


def register_plugins() -> None:
    """The SDK's panel and query types, plus InfluxQL under the plugin id Grafana 11 uses.

    Registration is idempotent (a dict keyed by plugin id), so every entry point may call it.
    """
    register_default_plugins()
    cogruntime.register_dataquery_variant(
        cogruntime.DataqueryConfig(identifier=INFLUXDB_TYPE, from_json_hook=InfluxQuery.from_json)
    )


def quote_ident(name: str) -> str:
    """A double-quoted InfluxQL identifier (measurement, tag key, field key)."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def quote_string(value: str) -> str:
    """A single-quoted InfluxQL string literal (a tag value compared with ``=``)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


_REGEX_SPECIAL = set("\\.+*?()|[]{}^$/")


def regex_escape(value: str) -> str:
    """Escape a literal for an InfluxQL regex: RE2 metacharacters, and ``/`` which ends the literal."""
    return "".join("\\" + char if char in _REGEX_SPECIAL else char for char in value)


def regex_any_of(values: Iterable[str]) -> str:
    """``/^(a|b)$/``: an InfluxQL regex literal matching exactly one of ``values`` (which must not be empty)."""
    escaped = [regex_escape(value) for value in values]
    if not escaped:
        raise ValueError("a regex of no values matches nothing; leave the condition out instead")
    return "/^(" + "|".join(escaped) + ")$/"
