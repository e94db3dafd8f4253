"""Dashboards and alert rules: built through grafana-foundation-sdk, lossless through its model, registry-driven."""

from __future__ import annotations

import json
import re
from typing import Any

from grafana_foundation_sdk.models import alerting
from grafana_foundation_sdk.models import dashboard as dashboard_model

from iot_suitcase.dashboards.conftest import SILENT, make_registry
from iot_suitcase.dashboards.display import grafana_unit
from iot_suitcase.dashboards.generate import (
    HEALTH_UID,
    INFLUX_UID,
    OVERVIEW_UID,
    PIPELINE_UID,
    iter_panels,
)
from iot_suitcase.dashboards.influxql import InfluxQuery, register_plugins
from iot_suitcase.dashboards.provisioning import Bundle, build_bundle, to_json
from iot_suitcase.dashboards.settings import DashboardSettings
from iot_suitcase.dashboards.thresholds import load_thresholds
from iot_suitcase.devices.catalog import load_catalog
from iot_suitcase.devices.registry import Registry, make_spec


def reloaded(board: dict[str, Any]) -> Any:
    register_plugins()
    return to_json(dashboard_model.Dashboard.from_json(json.loads(json.dumps(board))))


def test_every_dashboard_reloads_through_the_sdk_model_without_loss(bundle: Bundle) -> None:
    assert len(bundle.dashboards) >= 4
    for board in bundle.dashboards:
        assert reloaded(board) == board, board["uid"]


def test_reloaded_targets_are_typed_influxql_queries_again(bundle: Bundle) -> None:
    register_plugins()
    model = dashboard_model.Dashboard.from_json(bundle.dashboard(HEALTH_UID))
    targets = [target for panel in iter_panels(model) for target in panel.targets or []]
    assert targets
    assert all(isinstance(target, InfluxQuery) for target in targets)
    assert all(target.query.startswith(("SELECT", "SHOW")) for target in targets if isinstance(target, InfluxQuery))


def test_a_changed_reload_would_be_noticed(bundle: Bundle) -> None:
    # The roundtrip comparison is meaningful: a field the model drops or adds shows as a difference.
    board = json.loads(json.dumps(bundle.dashboard(OVERVIEW_UID)))
    board["panels"][0]["notAGrafanaField"] = 1
    assert reloaded(board) != board


def test_every_rule_group_reloads_through_the_sdk_model_without_loss(bundle: Bundle) -> None:
    register_plugins()
    for group in bundle.alerts.groups:
        data = to_json(group)
        assert to_json(alerting.RuleGroup.from_json(json.loads(json.dumps(data)))) == data


def test_generation_is_deterministic() -> None:
    settings = DashboardSettings()
    first = build_bundle(make_registry(), settings)
    second = build_bundle(make_registry(), settings)
    assert first.dashboards == second.dashboards
    assert [to_json(g) for g in first.alerts.groups] == [to_json(g) for g in second.alerts.groups]


def test_uids_tags_and_panel_ids(bundle: Bundle) -> None:
    uids = [board["uid"] for board in bundle.dashboards]
    assert uids[0] == OVERVIEW_UID
    assert {HEALTH_UID, PIPELINE_UID} <= set(uids)
    assert len(set(uids)) == len(uids)
    for board in bundle.dashboards:
        assert re.fullmatch(r"[a-zA-Z0-9_-]{1,40}", board["uid"])
        assert "iot-suitcase" in board["tags"]
        assert board["editable"] is False
        ids = [panel["id"] for panel in board["panels"]]
        assert len(ids) == len(set(ids)), board["uid"]
        names = {variable["name"] for variable in board["templating"]["list"]}
        assert {"site", "device"} <= names
        for variable in board["templating"]["list"]:
            assert variable["query"].startswith("SHOW TAG VALUES")
            assert variable["allValue"] == ".*"


def test_one_dashboard_per_registered_kind_and_none_for_unregistered_kinds(bundle: Bundle) -> None:
    kinds = {board["uid"].removeprefix("suitcase-kind-") for board in bundle.dashboards if "kind-" in board["uid"]}
    assert kinds == {"air_quality", "noise", "climate", "level", "weather", "counter", "energy", "light"}


def test_overview_repeats_one_row_by_site_with_a_query_per_quantity_the_fleet_measures(bundle: Bundle) -> None:
    board = bundle.dashboard(OVERVIEW_UID)
    rows = [panel for panel in board["panels"] if panel["type"] == "row"]
    assert [(row["title"], row["repeat"]) for row in rows] == [("Site $site", "site")]  # Grafana repeats it per site
    (stats,) = [panel for panel in board["panels"] if panel["type"] == "stat"]
    queries = {target["refId"]: target["query"] for target in stats["targets"]}
    assert {"co2", "noise_laeq", "temperature", "distance", "energy"} <= set(queries)
    assert not {"battery", "rssi"} & set(queries)  # device health has its own dashboard
    assert all("${site:regex}" in query and "${device:regex}" in query for query in queries.values())


def test_stat_and_series_panels_carry_catalog_units_decimals_and_guidance(bundle: Bundle) -> None:
    catalog = load_catalog()
    board = bundle.dashboard(OVERVIEW_UID)
    (stats,) = [panel for panel in board["panels"] if panel["type"] == "stat"]
    overrides = {
        override["matcher"]["options"]: {item["id"]: item["value"] for item in override["properties"]}
        for override in stats["fieldConfig"]["overrides"]
    }
    assert all(override["matcher"]["id"] == "byFrameRefID" for override in stats["fieldConfig"]["overrides"])
    co2 = overrides["co2"]
    assert co2["unit"] == "ppm"
    assert co2["decimals"] == catalog.quantities["co2"].decimals
    assert [step["value"] for step in co2["thresholds"]["steps"]] == [None, 1000, 2000]
    assert overrides["temperature"]["unit"] == "celsius"
    assert [step["value"] for step in overrides["temperature"]["thresholds"]["steps"]] == [None]
    air = bundle.dashboard("suitcase-kind-air_quality")
    pm = next(p for p in air["panels"] if p["title"].startswith("Particulate matter up to 2.5"))
    assert pm["fieldConfig"]["defaults"]["unit"] == "conμgm3"
    # Annual values are not drawn on an hourly chart; the 24-hour ones are.
    assert [s["value"] for s in pm["fieldConfig"]["defaults"]["thresholds"]["steps"]] == [None, 15, 25]
    assert pm["options"]["legend"]["calcs"] == ["min", "max", "lastNotNull"]
    daily = next(p for p in air["panels"] if "daily mean" in p["title"] and "2.5" in p["title"])
    assert daily["timeFrom"] == "7d"
    assert "GROUP BY time(1d)" in daily["targets"][0]["query"]


def test_kind_panels_filter_by_kind_and_group_by_device(bundle: Bundle) -> None:
    climate = bundle.dashboard("suitcase-kind-climate")
    for panel in climate["panels"]:
        query = panel["targets"][0]["query"]
        assert "\"kind\" = 'climate'" in query
        assert 'GROUP BY time($__interval), "device"' in query
        assert "${site:regex}" in query
        assert "${device:regex}" in query


def test_the_map_reads_the_devices_from_influxdb_joined_with_state(bundle: Bundle) -> None:
    board = bundle.dashboard(OVERVIEW_UID)
    geomap = next(p for p in board["panels"] if p["type"] == "geomap")
    assert {t["datasource"]["uid"] for t in geomap["targets"]} == {INFLUX_UID}
    devices, state = geomap["targets"]
    assert 'FROM "suitcase_devices"' in devices["query"]
    assert (devices["resultFormat"], state["resultFormat"]) == ("table", "table")
    assert geomap["transformations"][0]["id"] == "joinByField"
    assert geomap["options"]["layers"][0]["location"] == {"mode": "coords", "latitude": "lat", "longitude": "lon"}


def test_health_dashboard_has_the_silent_table_and_a_voltage_panel_for_registered_models_only(bundle: Bundle) -> None:
    board = bundle.dashboard(HEALTH_UID)
    titles = [panel["title"] for panel in board["panels"]]
    assert "Silent devices" in titles
    assert "Battery voltage of dragino/ldds75" in titles
    silent = next(p for p in board["panels"] if p["title"] == "Silent devices")
    assert 'WHERE "uplinks" = 0' in silent["targets"][0]["query"]
    assert "+ 300 AS" in silent["targets"][0]["query"]  # the registry's interval of c-silent-1 and harbour-air.1
    assert "\"interval_s\" = '300'" in silent["targets"][0]["query"]


def test_a_new_device_changes_no_dashboard_unless_it_brings_a_new_kind_or_interval() -> None:
    """#17 point 3: devices and sites are data in InfluxDB; only a new kind (a dashboard) or a new reporting
    interval (a silence window) changes what is generated."""
    settings = DashboardSettings()
    before = build_bundle(make_registry(), settings)
    registry = make_registry()
    registry.add(make_spec({"id": "new-1", "model": "native", "site": "newtown", "kind": "climate", "interval_s": 300}))
    same = build_bundle(registry, settings)
    assert same.dashboards == before.dashboards
    assert [to_json(g) for g in same.alerts.groups] == [to_json(g) for g in before.alerts.groups]
    registry.add(make_spec({"id": "new-2", "model": "native", "site": "newtown", "kind": "climate", "interval_s": 120}))
    after = build_bundle(registry, settings)
    silent = to_json(after.alerts.groups[0])["rules"][0]
    assert "\"interval_s\" = '120'" in silent["data"][0]["model"]["query"]
    assert "new-2" not in silent["data"][0]["model"]["query"]


def test_every_dashboard_stays_small_whatever_the_fleet() -> None:
    """#17 point 3: 5,000 devices on 40 sites; every dashboard under 100 KB, and no device id in any of them."""
    registry = Registry()
    kinds = ("climate", "air_quality", "noise", "level", "counter", "weather", "light", "energy")
    for n in range(5000):
        spec = {"id": f"kit-{n:05d}", "model": "native", "site": f"site-{n % 40}", "kind": kinds[n % len(kinds)]}
        registry.add(make_spec({**spec, "interval_s": (300, 600, 900)[n % 3], "location": {"lat": 56.1, "lon": 10.2}}))
    bundle = build_bundle(registry, DashboardSettings())
    for board in bundle.dashboards:
        text = json.dumps(board)
        assert len(text.encode()) < 100_000, (board["uid"], len(text))
        assert not [word for word in ("kit-0", "site-1") if word in text], board["uid"]
    for group in bundle.alerts.groups:
        assert "kit-0" not in json.dumps(to_json(group))


def test_an_empty_registry_still_gives_every_fixed_dashboard() -> None:
    bundle = build_bundle(Registry(), DashboardSettings())
    assert [board["uid"] for board in bundle.dashboards] == [OVERVIEW_UID, HEALTH_UID, PIPELINE_UID]
    overview = bundle.dashboard(OVERVIEW_UID)
    assert [panel["type"] for panel in overview["panels"]] == ["text"]
    rules = [rule["uid"] for group in bundle.alerts.groups for rule in to_json(group)["rules"]]
    assert rules == ["suitcase-battery-low"]  # nothing to be silent, no quantity measured


def test_every_catalog_unit_maps_to_a_grafana_unit() -> None:
    for quantity in load_catalog().quantities.values():
        assert grafana_unit(quantity), quantity.name
    catalog = load_catalog().quantities
    assert grafana_unit(catalog["humidity"]) == "humidity"
    assert grafana_unit(catalog["battery"]) == "percent"
    assert grafana_unit(catalog["pressure"]) == "pressurehpa"


def test_alert_rules(bundle: Bundle) -> None:
    rules = {rule["uid"]: rule for group in bundle.alerts.groups for rule in to_json(group)["rules"]}
    assert {"suitcase-device-silent", "suitcase-battery-low", "suitcase-battery-voltage-dragino-ldds75"} <= set(rules)
    assert "suitcase-co2-uba-1000" in rules
    assert "suitcase-pm2_5-who-24h" in rules
    assert not any("year" in uid or "lden" in uid for uid in rules)  # long-term values are not alerted
    for uid, rule in rules.items():
        assert len(uid) <= 40
        assert "$" not in rule["title"]
        assert [q["refId"] for q in rule["data"]] == ["A", "B", "C"]
        assert rule["condition"] == "C"
        assert rule["notification_settings"]["receiver"] == "iot-suitcase"
        assert rule["folderUID"] == "iot-suitcase"
    pm = rules["suitcase-pm2_5-who-24h"]
    assert pm["data"][0]["relativeTimeRange"] == {"from": 86400, "to": 0}
    assert pm["data"][2]["model"]["conditions"][0]["evaluator"] == {"params": [15.0], "type": "gt"}
    assert pm["for"] == f"{load_thresholds().alert_for_minutes}m"
    assert SILENT not in rules["suitcase-device-silent"]["data"][0]["model"]["query"]  # no device lists


def test_without_a_contact_point_rules_name_no_receiver(registry: Registry) -> None:
    bundle = build_bundle(registry, DashboardSettings())
    assert bundle.alerts.contact_points == ()
    assert bundle.alerts.policy is None
    for group in bundle.alerts.groups:
        assert all("notification_settings" not in rule for rule in to_json(group)["rules"])


def test_retention_policy_qualifies_every_measurement(registry: Registry) -> None:
    settings = DashboardSettings(influx_retention_policy="one_year")
    bundle = build_bundle(registry, settings)
    board = bundle.dashboard("suitcase-kind-climate")
    assert all('FROM "one_year"."' in panel["targets"][0]["query"] for panel in board["panels"])
