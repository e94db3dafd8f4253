"""The four kinds of dashboards, built with grafana-foundation-sdk's typed builders from a ``Fleet``.

1. City overview: a map of the registered devices coloured by state, and a row repeated per site with the
   newest value of each quantity measured there.
2. One dashboard per kind (climate, air quality, ...): a time series per quantity, with public guidance
   values drawn as thresholds.
3. Device health: silent devices, last seen, messages per minute, rejects, battery, radio.
4. Pipeline: the ingest service's own figures.

The registry decides which kind dashboards and alert rules exist and the silence windows (one per distinct
reporting interval); devices and sites come from InfluxDB at view time, so no dashboard grows with the fleet
and a new device of a known kind and interval shows with no new export. The output is deterministic: stable
uids, panel ids and order.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from grafana_foundation_sdk.builders import common as common_builder
from grafana_foundation_sdk.builders import dashboard as dashboard_builder
from grafana_foundation_sdk.builders import geomap, stat, table, text, timeseries
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as dashboard_model
from grafana_foundation_sdk.models import geomap as geomap_model
from grafana_foundation_sdk.models import text as text_model

from iot_suitcase.dashboards.display import Aggregate, aggregate, grafana_unit
from iot_suitcase.dashboards.fleet import Fleet
from iot_suitcase.dashboards.influxql import INFLUXDB_TYPE, InfluxQueryBuilder, ResultFormat
from iot_suitcase.dashboards.queries import (
    DEVICE_FILTER,
    PIPELINE,
    SILENCE_FACTOR,
    SILENCE_LOOKBACK,
    SITE_FILTER,
    Queries,
)
from iot_suitcase.dashboards.thresholds import Guidance, Thresholds
from iot_suitcase.devices.links import DEVICE_HEALTH_UID, kind_dashboard_uid

FOLDER_UID = "iot-suitcase"
FOLDER_TITLE = "iot-suitcase"
TAG = "iot-suitcase"
INFLUX_UID = "suitcase-influxdb"
INFLUX = dashboard_model.DataSourceRef(type_val=INFLUXDB_TYPE, uid=INFLUX_UID)

OVERVIEW_UID = "suitcase-overview"
HEALTH_UID = DEVICE_HEALTH_UID  # the console links devices to it (devices/links.py)
PIPELINE_UID = "suitcase-pipeline"
UID_PREFIX = "suitcase-"

_GUIDANCE_COLOURS = ("yellow", "orange", "red", "purple", "dark-purple")


@dataclass(frozen=True)
class Context:
    """What every generator needs."""

    fleet: Fleet
    thresholds: Thresholds
    queries: Queries = field(default_factory=Queries)


class _PanelIds:
    """Panel ids unique within a dashboard, in the order panels are added (so ids are stable)."""

    def __init__(self) -> None:
        self._next = 0

    def __call__(self) -> int:
        self._next += 1
        return self._next


def _influx(
    query: str, ref_id: str = "A", *, alias: str | None = None, fmt: ResultFormat = "time_series"
) -> InfluxQueryBuilder:
    target = InfluxQueryBuilder(query).ref_id(ref_id).datasource(INFLUX).result_format(fmt)
    return target.alias(alias) if alias else target


def _variables(queries: Queries, *, worker: bool = False) -> list[cogbuilder.Builder[dashboard_model.VariableModel]]:
    """``site`` and ``device`` (device options follow the chosen sites), ``worker`` on the pipeline dashboard.

    Multi-value with a custom "All" of ``.*``: queries use ``/^${site:regex}$/``, so "All" is one cheap
    regex instead of a list of every site that grows with the city.
    """

    def variable(name: str, label: str, query: str) -> dashboard_builder.QueryVariable:
        return (
            dashboard_builder.QueryVariable(name)
            .label(label)
            .query(query)
            .datasource(INFLUX)
            .multi(True)
            .include_all(True)
            .all_value(".*")
            .refresh(dashboard_model.VariableRefresh.ON_TIME_RANGE_CHANGED)
            .sort(dashboard_model.VariableSort.ALPHABETICAL_ASC)
            .current(dashboard_model.VariableOption(selected=True, text=["All"], value=["$__all"]))
        )

    found: list[cogbuilder.Builder[dashboard_model.VariableModel]] = [
        variable("site", "Site", queries.site_values()),
        variable("device", "Device", queries.device_values()),
    ]
    if worker:
        found.append(variable("worker", "Ingest worker", queries.worker_values()))
    return found


def _dashboard(
    uid: str, title: str, description: str, *, hours: int, tags: Sequence[str] = ()
) -> dashboard_builder.Dashboard:
    # Read-only in Grafana: every export/push overwrites these, so edits made in the UI would be lost.
    return (
        dashboard_builder.Dashboard(title)
        .uid(uid)
        .description(description)
        .tags([TAG, *tags])
        .readonly()
        .timezone("browser")
        .refresh("1m")
        .time(f"now-{hours}h", "now")
        .tooltip(dashboard_model.DashboardCursorSync.CROSSHAIR)
    )


def _steps(base: str, steps: Sequence[tuple[float, str]]) -> dashboard_builder.ThresholdsConfig:
    return (
        dashboard_builder.ThresholdsConfig()
        .mode(dashboard_model.ThresholdsMode.ABSOLUTE)
        .steps(
            [dashboard_model.Threshold(value=None, color=base)]
            + [dashboard_model.Threshold(value=value, color=colour) for value, colour in steps]
        )
    )


def _guidance_steps(guidance: Sequence[Guidance]) -> dashboard_builder.ThresholdsConfig:
    """Green below the lowest guidance value, then one colour per value, darker as values rise."""
    colours = [_GUIDANCE_COLOURS[min(i, len(_GUIDANCE_COLOURS) - 1)] for i in range(len(guidance))]
    return _steps("green", [(entry.value, colour) for entry, colour in zip(guidance, colours, strict=True)])


def _guidance_text(guidance: Sequence[Guidance]) -> str:
    return "".join(f"\n- {entry.label}. Source: {entry.source}" for entry in guidance)


def _legend() -> common_builder.VizLegendOptions:
    return (
        common_builder.VizLegendOptions()
        .display_mode(common.LegendDisplayMode.TABLE)
        .placement(common.LegendPlacement.BOTTOM)
        .show_legend(True)
        .calcs(["min", "max", "lastNotNull"])
    )


def _series_panel(title: str, unit: str, decimals: int | None = None) -> timeseries.Panel:
    panel = (
        timeseries.Panel()
        .title(title)
        .datasource(INFLUX)
        .unit(unit)
        .legend(_legend())
        .line_interpolation(common.LineInterpolation.SMOOTH)
        .span(12)
        .height(9)
    )
    return panel if decimals is None else panel.decimals(decimals)


def _quantity_series(context: Context, ids: _PanelIds, quantity: str, *, kind: str | None = None) -> timeseries.Panel:
    spec = context.fleet.catalog.quantities[quantity]
    how = aggregate(quantity)
    guidance = context.thresholds.for_quantity(quantity)
    description = f"{spec.description}, {how.value} per interval, one line per device, in {spec.unit}."
    panel = (
        _series_panel(f"{spec.description} ({spec.unit})", grafana_unit(spec), spec.decimals)
        .id(ids())
        .with_target(_influx(context.queries.series_per_device(quantity, how, kind=kind), alias="$tag_device"))
    )
    if how is Aggregate.SUM:
        panel = panel.draw_style(common.GraphDrawStyle.BARS).fill_opacity(60)
    if guidance:
        description += " Dashed lines: public guidance values (the period says what each is defined over)."
        description += _guidance_text(guidance)
        panel = panel.thresholds(_guidance_steps(guidance)).thresholds_style(
            common_builder.GraphThresholdsStyleConfig().mode(common.GraphThresholdsStyleMode.DASHED)
        )
    return panel.description(description)


def _daily_mean_panel(context: Context, ids: _PanelIds, quantity: str, kind: str) -> timeseries.Panel | None:
    """Daily means over a week for quantities whose guidance is a 24-hour mean (PM, NO2)."""
    daily = [g for g in context.thresholds.for_quantity(quantity) if g.period.value == "24h"]
    if not daily:
        return None
    spec = context.fleet.catalog.quantities[quantity]
    return (
        _series_panel(f"{spec.description}: daily mean, last 7 days", grafana_unit(spec), spec.decimals)
        .id(ids())
        .description(
            "Daily (UTC) means per device, comparable with guidance defined as 24-hour means." + _guidance_text(daily)
        )
        .time_from("7d")
        .draw_style(common.GraphDrawStyle.BARS)
        .fill_opacity(50)
        .with_target(_influx(context.queries.daily_mean_per_device(quantity, kind=kind), alias="$tag_device"))
        .thresholds(_guidance_steps(daily))
        .thresholds_style(common_builder.GraphThresholdsStyleConfig().mode(common.GraphThresholdsStyleMode.DASHED))
    )


def _map_panel(context: Context, ids: _PanelIds) -> geomap.Panel:
    """Devices at their registry locations, coloured by whether they are reporting.

    Both queries read InfluxDB: the registry's devices as the ingest service publishes them
    (``suitcase_devices``: name, site, kind, model, interval, location) and each device's uplinks within 3x its
    own reporting interval (0: silent). A join by device id puts both together; a device never heard from
    within the lookback has no count and shows grey. A device registered a minute ago is on the map.
    """
    queries = context.queries
    registry = _influx(queries.located_devices(), "devices", fmt="table")
    state = _influx(queries.uplinks_for_silence_alert(context.fleet.intervals), "state", fmt="table")
    markers = (
        common_builder.MapLayerOptions()
        .type("markers")
        .name("Devices")
        .location(
            common_builder.FrameGeometrySource()
            .mode(common.FrameGeometrySourceMode.COORDS)
            .latitude("lat")
            .longitude("lon")
        )
        .config(
            {
                "showLegend": True,
                "style": {
                    "color": {"field": "uplinks", "fixed": "text"},
                    "size": {"fixed": 8},
                    "opacity": 0.8,
                    "symbol": {"mode": "fixed", "fixed": "img/icons/marker/circle.svg"},
                    "text": {"mode": "field", "field": "name"},
                    "textConfig": {"fontSize": 10, "offsetY": -12},
                },
            }
        )
        .tooltip(True)
    )
    return (
        geomap.Panel()
        .id(ids())
        .title("Devices")
        .description(
            f"Every registered device with a location. Green: reported within {SILENCE_FACTOR}x its reporting "
            f"interval; red: silent longer; no colour: not heard from in {SILENCE_LOOKBACK}. Names and locations "
            "come from the device registry (`suitcase devices`), which the ingest service writes to InfluxDB."
        )
        .datasource(INFLUX)
        .with_target(registry)
        .with_target(state)
        .with_transformation(
            dashboard_model.DataTransformerConfig(id_val="joinByField", options={"byField": "device", "mode": "outer"})
        )
        .unit("none")
        .thresholds(_steps("red", [(1, "green")]))
        .view(geomap.MapViewConfig().id("fit").padding(10))
        .basemap(common_builder.MapLayerOptions().type("osm-standard").name("OpenStreetMap"))
        .layers([markers])
        .controls(geomap.ControlsOptions().show_zoom(True).mouse_wheel_zoom(True).show_attribution(True))
        .tooltip(geomap.TooltipOptions().mode(geomap_model.TooltipMode.DETAILS))
        .span(24)
        .height(12)
    )


def _empty_fleet_note(ids: _PanelIds) -> text.Panel:
    return (
        text.Panel()
        .id(ids())
        .title("No devices registered")
        .mode(text_model.TextMode.MARKDOWN)
        .content(
            "No device is registered yet, so there is nothing to show per site. Register the kit with "
            "`suitcase devices import kit.csv` and run `suitcase dashboards push` (or export) again."
        )
        .span(24)
        .height(4)
    )


def overview(context: Context) -> dashboard_model.Dashboard:
    fleet, ids = context.fleet, _PanelIds()
    board = _dashboard(
        OVERVIEW_UID,
        "iot-suitcase: city overview",
        "Where the devices are and what they measure now. Generated from the sensor catalog by `suitcase "
        "dashboards`; the devices come from InfluxDB. Do not edit here, changes are overwritten.",
        hours=24,
    ).variables(_variables(context.queries))
    if not fleet.devices:
        return board.with_panel(_empty_fleet_note(ids)).build()
    board = board.with_panel(_map_panel(context, ids))
    if not fleet.shown_quantities:
        return board.build()
    # One row per site chosen in the site variable, repeated by Grafana: the JSON does not grow with the city.
    row = dashboard_builder.Row("Site $site").id(ids()).repeat("site")
    return board.with_row(row).with_panel(_latest_stats(context, ids)).build()


def _latest_stats(context: Context, ids: _PanelIds) -> stat.Panel:
    """The newest value of every device at one site, a tile each: a query per quantity the fleet's kinds
    measure (a site without that quantity returns nothing for it), each with its unit and guidance colours."""
    panel = (
        stat.Panel()
        .id(ids())
        .title("Newest values")
        .description("Newest value of each quantity of each device at this site; colours mark guidance values.")
        .datasource(INFLUX)
        .reduce_options(common_builder.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
        .text_mode(common.BigValueTextMode.VALUE_AND_NAME)
        .graph_mode(common.BigValueGraphMode.NONE)
        .color_mode(common.BigValueColorMode.BACKGROUND)
        .thresholds(_steps("blue", []))
        .span(24)
        .height(8)
    )
    for quantity in context.fleet.shown_quantities:
        spec = context.fleet.catalog.quantities[quantity]
        guidance = context.thresholds.for_quantity(quantity)
        target = _influx(context.queries.latest_per_device(quantity), quantity, alias=f"$tag_device: {spec.short}")
        steps = _guidance_steps(guidance) if guidance else _steps("blue", [])
        panel = panel.with_target(target).override_by_query(
            quantity,
            [
                dashboard_model.DynamicConfigValue(id_val="unit", value=grafana_unit(spec)),
                dashboard_model.DynamicConfigValue(id_val="decimals", value=spec.decimals),
                dashboard_model.DynamicConfigValue(id_val="thresholds", value=steps.build()),
            ],
        )
    return panel


def kind_dashboard(context: Context, kind: str) -> dashboard_model.Dashboard:
    fleet, ids = context.fleet, _PanelIds()
    title = fleet.catalog.kinds[kind].title
    board = _dashboard(
        kind_dashboard_uid(kind),
        f"iot-suitcase: {title}",
        f"Every {title.lower()} quantity over time, one line per device of kind {kind}. Dashed lines are public "
        "guidance values (dashboards/thresholds.toml lists each with its source).",
        hours=24,
        tags=[kind],
    ).variables(_variables(context.queries))
    for quantity in fleet.kind_quantities(kind):
        board = board.with_panel(_quantity_series(context, ids, quantity, kind=kind))
    for quantity in fleet.kind_quantities(kind):
        daily = _daily_mean_panel(context, ids, quantity, kind)
        if daily is not None:
            board = board.with_panel(daily)
    return board.build()


def device_health(context: Context) -> dashboard_model.Dashboard:
    fleet, ids, queries = context.fleet, _PanelIds(), context.queries
    board = _dashboard(
        HEALTH_UID,
        "iot-suitcase: device health",
        "Which devices report, how often, how their batteries and radio links are, and what was rejected.",
        hours=24,
        tags=["health"],
    ).variables(_variables(queries))
    board = board.with_row(dashboard_builder.Row("Reporting").id(ids()))
    if fleet.devices:
        board = board.with_panel(_silent_table(context, ids))
    board = board.with_panel(
        _table()
        .id(ids())
        .title("Last seen")
        .description(f"Newest uplink of each device within {SILENCE_LOOKBACK}; 'Last seen' counts from now.")
        .datasource(INFLUX)
        .with_target(_influx(queries.last_seen(), fmt="table"))
        .override_by_name(
            "Time",
            [
                dashboard_model.DynamicConfigValue(id_val="unit", value="dateTimeFromNow"),
                dashboard_model.DynamicConfigValue(id_val="displayName", value="Last seen"),
            ],
        )
        .sort_by([common_builder.TableSortByFieldState().display_name("Last seen").desc(False)])
        .span(12 if fleet.devices else 24)
        .height(10)
    )
    board = board.with_panel(
        _series_panel("Messages per minute", "suffix: msg/min", 1)
        .id(ids())
        .description("Stored messages per minute and device.")
        .with_target(_influx(queries.messages_per_minute(), alias="$tag_device"))
    )
    board = board.with_panel(_rejects_panel(context, ids, filtered=True))
    board = board.with_row(dashboard_builder.Row("Batteries and radio").id(ids()))
    board = board.with_panel(_battery_panel(context, ids))
    for quantity in ("battery_voltage", "rssi", "snr"):
        board = board.with_panel(_quantity_series(context, ids, quantity))
    for model, threshold in sorted(context.thresholds.voltage_thresholds().items()):
        if model in fleet.models:
            spec = fleet.catalog.quantities["battery_voltage"]
            board = board.with_panel(
                _series_panel(f"Battery voltage of {model}", grafana_unit(spec), spec.decimals)
                .id(ids())
                .description(f"Replace below {threshold.volts_below:g} V. Source: {threshold.source}")
                .with_target(_influx(queries.model_series("battery_voltage", model), alias="$tag_device"))
                .thresholds(_steps("red", [(threshold.volts_below, "green")]))
                .thresholds_style(
                    common_builder.GraphThresholdsStyleConfig().mode(common.GraphThresholdsStyleMode.DASHED)
                )
            )
    return board.build()


def _silent_table(context: Context, ids: _PanelIds) -> table.Panel:
    query = context.queries.uplinks_in_silence_window(
        context.fleet.intervals, extra_filter=f"{SITE_FILTER} AND {DEVICE_FILTER}", silent_only=True
    )
    return (
        _table()
        .id(ids())
        .title("Silent devices")
        .description(
            f"Registered devices without an uplink for {SILENCE_FACTOR}x their registry reporting interval "
            f"(interval_s), among those heard from within {SILENCE_LOOKBACK}. The same rule alerts."
        )
        .datasource(INFLUX)
        .with_target(_influx(query, fmt="table"))
        .override_by_name("Time", [dashboard_model.DynamicConfigValue(id_val="custom.hidden", value=True)])
        .no_value("No silent device")
        .span(12)
        .height(10)
    )


def _table() -> table.Panel:
    # Set explicitly what Grafana (and the SDK when reading a table back) fills in, so the JSON stays as written.
    return table.Panel().align(common.FieldTextAlignment.AUTO).inspect(False)


def _rejects_panel(context: Context, ids: _PanelIds, *, filtered: bool) -> timeseries.Panel:
    return (
        _series_panel("Rejected messages per reason", "short", 0)
        .id(ids())
        .description("Messages the platform refused, by reason code (README: reject codes).")
        .with_target(_influx(context.queries.rejects_per_reason(filtered=filtered), alias="$tag_reason"))
        .draw_style(common.GraphDrawStyle.BARS)
        .fill_opacity(70)
        .stacking(common_builder.StackingConfig().mode(common.StackingMode.NORMAL))
    )


def _battery_panel(context: Context, ids: _PanelIds) -> timeseries.Panel:
    spec = context.fleet.catalog.quantities["battery"]
    low = context.thresholds.battery
    return (
        _series_panel("Battery (%)", grafana_unit(spec), spec.decimals)
        .id(ids())
        .description(f"Remaining battery per device; low below {low.percent_below:g} %. Source: {low.source}")
        .with_target(_influx(context.queries.series_per_device("battery", Aggregate.LAST), alias="$tag_device"))
        .min(0)
        .max(100)
        .thresholds(_steps("red", [(low.percent_below, "green")]))
        .thresholds_style(common_builder.GraphThresholdsStyleConfig().mode(common.GraphThresholdsStyleMode.DASHED))
    )


def pipeline(context: Context) -> dashboard_model.Dashboard:
    ids, queries = _PanelIds(), context.queries
    board = _dashboard(
        PIPELINE_UID,
        "iot-suitcase: ingest pipeline",
        f"The ingest service's own figures ({PIPELINE}, every 10 s per worker): throughput, rejects, the "
        "write-ahead log's backlog, InfluxDB write latency and reachability.",
        hours=6,
        tags=["pipeline"],
    ).variables(_variables(queries, worker=True))
    board = board.with_panel(
        _series_panel("Readings stored per second", "suffix: readings/s", 1)
        .id(ids())
        .with_target(_influx(queries.counter_rate("stored_readings"), alias="$tag_worker"))
        .stacking(common_builder.StackingConfig().mode(common.StackingMode.NORMAL))
        .fill_opacity(30)
    )
    messages = _series_panel("Messages per second", "suffix: msg/s", 1).id(ids())
    for ref, name in zip("ABCD", ("received", "acked", "rejected", "duplicates"), strict=True):
        messages = messages.with_target(_influx(queries.counter_rate(name), ref, alias=f"$tag_worker {name}"))
    board = board.with_panel(messages)
    board = board.with_panel(_rejects_panel(context, ids, filtered=False))
    board = board.with_panel(
        _series_panel("Write-ahead log backlog (records)", "short", 0)
        .id(ids())
        .description("Records in the log that InfluxDB has not accepted yet; grows while InfluxDB is down.")
        .with_target(_influx(queries.gauge("backlog_records"), alias="$tag_worker"))
    )
    board = board.with_panel(
        _series_panel("Write-ahead log backlog (bytes)", "bytes", 0)
        .id(ids())
        .with_target(_influx(queries.gauge("backlog_bytes"), alias="$tag_worker"))
    )
    board = board.with_panel(
        _series_panel("InfluxDB write latency", "ms", 1)
        .id(ids())
        .with_target(_influx(queries.gauge("write_latency_ms", "mean"), "A", alias="$tag_worker mean"))
        .with_target(_influx(queries.gauge("write_latency_ms", "max"), "B", alias="$tag_worker max"))
    )
    board = board.with_panel(
        stat.Panel()
        .id(ids())
        .title("InfluxDB reachable")
        .description(
            "As each worker last reported it. A worker that stops reporting shows no value: then the worker, "
            "or InfluxDB itself, is down."
        )
        .datasource(INFLUX)
        .with_target(_influx(queries.latest_gauge("influx_ok"), alias="$tag_worker"))
        .mappings(
            [
                dashboard_model.ValueMap(
                    options={
                        "0": dashboard_model.ValueMappingResult(text="unreachable", color="red", index=0),
                        "1": dashboard_model.ValueMappingResult(text="reachable", color="green", index=1),
                    }
                )
            ]
        )
        .thresholds(_steps("red", [(1, "green")]))
        .color_mode(common.BigValueColorMode.BACKGROUND)
        .graph_mode(common.BigValueGraphMode.NONE)
        .text_mode(common.BigValueTextMode.VALUE_AND_NAME)
        .reduce_options(common_builder.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
        .span(12)
        .height(9)
    )
    return board.build()


def generate(context: Context) -> list[dashboard_model.Dashboard]:
    """Every dashboard for the fleet: overview, one per kind, device health, pipeline."""
    return [
        overview(context),
        *(kind_dashboard(context, kind) for kind in context.fleet.dashboard_kinds),
        device_health(context),
        pipeline(context),
    ]


def iter_panels(board: dashboard_model.Dashboard) -> Iterator[dashboard_model.Panel]:
    """Every non-row panel, including those inside collapsed rows."""
    for panel in board.panels or []:
        if isinstance(panel, dashboard_model.RowPanel):
            yield from panel.panels
        else:
            yield panel
