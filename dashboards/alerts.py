"""Grafana-managed alert rules, the contact point and the notification policy, built with the SDK's builders.

Every rule is one InfluxQL query (A), a Reduce to one number per device (B) and a Threshold (C), the
shape Grafana's own rule editor produces. Rules follow the registry: the silence rule knows each
device's reporting interval, guidance rules exist only for quantities the fleet measures, battery
voltage rules only for models that are registered and have a vendor-stated replacement voltage.

The contact point comes from settings (``SUITCASE_ALERT_EMAIL``, ``SUITCASE_ALERT_WEBHOOK_URL``). With
neither set there is none: rules still evaluate and show in Grafana's alert list, and notifications go
wherever that Grafana's default policy sends them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from grafana_foundation_sdk.builders import alerting as alerting_builder
from grafana_foundation_sdk.builders import expr as expr_builder
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.models import alerting
from grafana_foundation_sdk.models import dashboard as dashboard_model

from iot_suitcase.dashboards.generate import FOLDER_UID, INFLUX, INFLUX_UID, Context
from iot_suitcase.dashboards.influxql import InfluxQueryBuilder
from iot_suitcase.dashboards.queries import SILENCE_FACTOR, SILENCE_LOOKBACK
from iot_suitcase.dashboards.settings import DashboardSettings

CONTACT_POINT = "iot-suitcase"
DEVICES_GROUP = "iot-suitcase-devices"
GUIDANCE_GROUP = "iot-suitcase-guidance"
EXPRESSION_UID = "__expr__"
EXPRESSION = dashboard_model.DataSourceRef(type_val=EXPRESSION_UID, uid=EXPRESSION_UID)
GROUP_INTERVAL_S = 60
MAX_UID = 40
BATTERY_WINDOW_S = 2 * 24 * 3600  # long enough for a device that reports once a day

RuleBuilder = cogbuilder.Builder[alerting.Rule]


@dataclass(frozen=True)
class AlertSet:
    """Everything alerting that is generated: rule groups, contact point integrations, a root policy."""

    groups: tuple[alerting.RuleGroup, ...]
    contact_points: tuple[alerting.ContactPoint, ...]
    policy: alerting.NotificationPolicy | None


def rule_uid(name: str) -> str:
    """``suitcase-<name>`` as a Grafana uid (at most 40 of ``A-Za-z0-9-_``), shortened with a hash if needed."""
    cleaned = "".join(char if char.isalnum() or char in "-_" else "-" for char in name)
    uid = f"suitcase-{cleaned}"
    if len(uid) <= MAX_UID:
        return uid
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{uid[: MAX_UID - 9]}-{digest}"


def _rule(
    *,
    uid: str,
    title: str,
    group: str,
    query: str,
    window_s: int,
    below: bool,
    value: float,
    for_minutes: int,
    labels: dict[str, str],
    summary: str,
    description: str,
    notify: bool,
) -> alerting_builder.Rule:
    """A: the InfluxQL over the last ``window_s``; B: its last value per series; C: B above/below ``value``."""
    data = (
        alerting_builder.Query("A")
        .datasource_uid(INFLUX_UID)
        .relative_time_range(alerting.RelativeTimeRange(from_val=window_s, to=0))
        .model(
            InfluxQueryBuilder(query)
            .ref_id("A")
            .datasource(INFLUX)
            .result_format("time_series")
            .interval_ms(1000)
            .max_data_points(43200)
        )
    )
    reduce = (
        alerting_builder.Query("B")
        .datasource_uid(EXPRESSION_UID)
        .model(
            expr_builder.TypeReduce()
            .ref_id("B")
            .datasource(EXPRESSION)
            .expression("A")
            .reducer("last")
            .settings(expr_builder.ExprTypeReduceSettings().mode("dropNN"))
        )
    )
    threshold = (
        alerting_builder.Query("C")
        .datasource_uid(EXPRESSION_UID)
        .model(
            expr_builder.TypeThreshold()
            .ref_id("C")
            .datasource(EXPRESSION)
            .expression("B")
            .conditions(
                [
                    expr_builder.ExprTypeThresholdConditions().evaluator(
                        expr_builder.ExprTypeThresholdConditionsEvaluator()
                        .type("lt" if below else "gt")
                        .params([value])
                    )
                ]
            )
        )
    )
    rule = (
        alerting_builder.Rule(title)
        .uid(uid)
        .org_id(1)
        .folder_uid(FOLDER_UID)
        .rule_group(group)
        .queries([data, reduce, threshold])
        .condition("C")
        .for_val(f"{for_minutes}m")
        # A device whose query returns nothing is not alerting: silence has its own rule.
        .no_data_state("OK")
        .exec_err_state("Error")
        .is_paused(False)
        .labels({"managed_by": "iot-suitcase", **labels})
        .annotations({"summary": summary, "description": description})
    )
    if notify:
        rule = rule.notification_settings(alerting_builder.NotificationSettings().receiver(CONTACT_POINT))
    return rule


def _device_rules(context: Context, notify: bool) -> list[RuleBuilder]:
    fleet, queries, thresholds = context.fleet, context.queries, context.thresholds
    rules: list[RuleBuilder] = []
    intervals = fleet.intervals
    if intervals:
        rules.append(
            _rule(
                uid=rule_uid("device-silent"),
                title="Device silent",
                group=DEVICES_GROUP,
                query=queries.uplinks_for_silence_alert(intervals),
                window_s=SILENCE_FACTOR * max(intervals),
                below=True,
                value=1,
                for_minutes=5,
                labels={"severity": "warning", "category": "silence"},
                summary="{{ $labels.device }} at {{ $labels.site }} is silent",
                description=f"No uplink for {SILENCE_FACTOR}x the device's reporting interval in the registry "
                f"(interval_s). Devices silent for longer than {SILENCE_LOOKBACK} drop out of this rule.",
                notify=notify,
            )
        )
    low = thresholds.battery
    rules.append(
        _rule(
            uid=rule_uid("battery-low"),
            title="Battery low",
            group=DEVICES_GROUP,
            query=queries.alert_latest_per_device("battery"),
            window_s=BATTERY_WINDOW_S,
            below=True,
            value=low.percent_below,
            for_minutes=30,
            labels={"severity": "warning", "category": "battery"},
            summary="Battery of {{ $labels.device }} at {{ $labels.site }} is low",
            description=f"Remaining battery below {low.percent_below:g} %. Source: {low.source}",
            notify=notify,
        )
    )
    for model, threshold in sorted(thresholds.voltage_thresholds().items()):
        if model not in fleet.models:
            continue
        rules.append(
            _rule(
                uid=rule_uid(f"battery-voltage-{model}"),
                title=f"Battery voltage low ({model})",
                group=DEVICES_GROUP,
                query=queries.alert_latest_per_device("battery_voltage", model=model),
                window_s=BATTERY_WINDOW_S,
                below=True,
                value=threshold.volts_below,
                for_minutes=30,
                labels={"severity": "warning", "category": "battery", "model": model},
                summary="Battery of {{ $labels.device }} at {{ $labels.site }} needs replacing",
                description=f"Battery voltage below {threshold.volts_below:g} V. Source: {threshold.source}",
                notify=notify,
            )
        )
    return rules


def _guidance_rules(context: Context, notify: bool) -> list[RuleBuilder]:
    fleet, thresholds = context.fleet, context.thresholds
    measured = set(fleet.quantities)
    rules: list[RuleBuilder] = []
    for entry in thresholds.guidance:
        window = entry.period.window_s
        if window is None or entry.quantity not in measured:
            continue
        spec = fleet.catalog.quantities[entry.quantity]
        rules.append(
            _rule(
                uid=rule_uid(entry.id),
                title=f"{spec.description} above {entry.value:g} {spec.unit} ({entry.id})",
                group=GUIDANCE_GROUP,
                query=context.queries.alert_mean_per_device(entry.quantity),
                window_s=window,
                below=False,
                value=entry.value,
                for_minutes=thresholds.alert_for_minutes,
                labels={"severity": "info", "category": "guidance", "quantity": entry.quantity},
                summary=f"{spec.description} at {{{{ $labels.device }}}} ({{{{ $labels.site }}}}) is above "
                f"{entry.name}",
                description=f"Mean over {entry.period.value} above {entry.value:g} {spec.unit}. Source: {entry.source}",
                notify=notify,
            )
        )
    return rules


def contact_points(settings: DashboardSettings) -> tuple[alerting.ContactPoint, ...]:
    """One contact point named ``iot-suitcase`` with an email and/or a webhook integration."""
    found = []
    if settings.alert_email:
        found.append(
            alerting_builder.ContactPoint()
            .uid("suitcase-email")
            .name(CONTACT_POINT)
            .type("email")
            .settings({"addresses": settings.alert_email, "singleEmail": True})
            .disable_resolve_message(False)
            .build()
        )
    if settings.alert_webhook_url:
        found.append(
            alerting_builder.ContactPoint()
            .uid("suitcase-webhook")
            .name(CONTACT_POINT)
            .type("webhook")
            .settings({"url": settings.alert_webhook_url, "httpMethod": "POST"})
            .disable_resolve_message(False)
            .build()
        )
    return tuple(found)


def generate_alerts(context: Context, settings: DashboardSettings) -> AlertSet:
    points = contact_points(settings)
    notify = bool(points)
    groups = [
        alerting_builder.RuleGroup(DEVICES_GROUP)
        .folder_uid(FOLDER_UID)
        .interval(GROUP_INTERVAL_S)
        .rules(_device_rules(context, notify))
        .build()
    ]
    guidance = _guidance_rules(context, notify)
    if guidance:
        groups.append(
            alerting_builder.RuleGroup(GUIDANCE_GROUP)
            .folder_uid(FOLDER_UID)
            .interval(GROUP_INTERVAL_S)
            .rules(guidance)
            .build()
        )
    policy = None
    if notify:
        policy = (
            alerting_builder.NotificationPolicy()
            .receiver(CONTACT_POINT)
            .group_by(["grafana_folder", "alertname"])
            .group_wait("30s")
            .group_interval("5m")
            .repeat_interval("4h")
            .build()
        )
    return AlertSet(tuple(groups), points, policy)
