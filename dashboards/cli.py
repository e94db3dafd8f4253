"""`suitcase dashboards export DIR` and `suitcase dashboards push`: Grafana from the registry and the catalog.

Every setting is a ``SUITCASE_*`` environment variable and a flag (dashboards/settings.py); flags win.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from pydantic_settings import CliSettingsSource

from iot_suitcase.dashboards.settings import DashboardSettings, PushSettings
from iot_suitcase.devices.registry import RegistryError, RegistryFile
from iot_suitcase.devices.settings import InfluxFlavour

# The generator and the Grafana client are imported where they are used: they take most of a second to
# import, and every `suitcase` command would pay for it just to build its parser.
if TYPE_CHECKING:
    from iot_suitcase.dashboards.provisioning import Bundle


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "dashboards",
        help="Grafana dashboards and alerts from the registry and the catalog: export, push",
        description="Generates the InfluxDB datasource, the dashboards (overview, one per kind, device health, "
        "pipeline) and the alert rules, as a Grafana provisioning tree or straight into a running Grafana. "
        "Details: dashboards/README.md.",
    )
    subcommands = parser.add_subparsers(dest="dashboards_command", required=True, metavar="COMMAND")

    export = subcommands.add_parser(
        "export",
        help="write Grafana's provisioning tree (datasources/, dashboards/, alerting/) into DIR",
        description="Writes DIR/datasources, DIR/dashboards and DIR/alerting for Grafana's file provisioning "
        "(mount DIR at /etc/grafana/provisioning, or set --grafana-provisioning-dir). Secrets are written as "
        "$__env{SUITCASE_INFLUX_PASSWORD} / $__env{SUITCASE_INFLUX_TOKEN}: give Grafana those variables.",
    )
    export.add_argument("directory", type=Path, metavar="DIR", help="the provisioning directory to write")
    export.add_argument(
        "--compose",
        action="store_true",
        help=f"for the compose stack's Grafana: InfluxDB 1.x at {COMPOSE_INFLUX_URL}, unless set otherwise",
    )
    export.add_argument(
        "--watch",
        action="store_true",
        help="keep running and write the tree again whenever the registry changes (Grafana reloads dashboards "
        "every 30 s; alert rules too when SUITCASE_GRAFANA_TOKEN is set: see dashboards/README.md)",
    )
    _registry_option(export)
    export_source: CliSettingsSource[PushSettings] = CliSettingsSource(PushSettings, root_parser=export)
    export.set_defaults(
        handler=lambda args: run_export(args, PushSettings(_cli_settings_source=export_source(parsed_args=args)))
    )

    pushing = subcommands.add_parser(
        "push",
        help="create or update folder, datasources, dashboards and alert rules in a running Grafana",
        description="Creates or updates everything by uid through Grafana's HTTP API; what already matches is "
        "left alone, so a second push changes nothing. Needs a service-account token (Editor for dashboards, "
        "Admin for datasources and alerting); prefer SUITCASE_GRAFANA_TOKEN to --token, flags are visible in "
        "the process list.",
    )
    _registry_option(pushing)
    pushing.add_argument(
        "--rotate-secrets",
        action="store_true",
        help="send the InfluxDB password/token even if Grafana already has one (Grafana never shows them)",
    )
    push_source: CliSettingsSource[PushSettings] = CliSettingsSource(PushSettings, root_parser=pushing)
    pushing.add_argument("--token", dest="grafana_token", default=argparse.SUPPRESS, help="the same as --grafana-token")
    pushing.set_defaults(
        handler=lambda args: run_push(args, PushSettings(_cli_settings_source=push_source(parsed_args=args)))
    )


COMPOSE_INFLUX_URL = "http://influxdb:8086"  # the influxdb service on the compose network


def _registry_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--registry",
        type=Path,
        metavar="PATH",
        help="device registry file (default: SUITCASE_REGISTRY_FILE, else var/registry.yaml)",
    )


def _bundle(args: argparse.Namespace, settings: DashboardSettings) -> Bundle | None:
    from iot_suitcase.dashboards.provisioning import build_bundle  # noqa: PLC0415 (lazy, see above)

    try:
        registry = RegistryFile(args.registry).load()
    except RegistryError as error:
        print(f"error: {error}", file=sys.stderr)
        return None
    return build_bundle(registry, settings)


def _contact_note(bundle: Bundle) -> str:
    if bundle.alerts.contact_points:
        kinds = ", ".join(sorted(point.type_val for point in bundle.alerts.contact_points))
        return f"alerts notify the contact point 'iot-suitcase' ({kinds})"
    return (
        "no contact point: neither SUITCASE_ALERT_EMAIL nor SUITCASE_ALERT_WEBHOOK_URL is set, so alert rules "
        "only show in Grafana (Alerting > Alert rules) and notify whatever Grafana's default policy names"
    )


Settings = TypeVar("Settings", bound=DashboardSettings)


def for_compose(settings: Settings) -> Settings:
    """The compose stack's InfluxDB as its Grafana reaches it; what the operator set explicitly stays."""
    wanted = {"influx_flavour": InfluxFlavour.V1, "grafana_influx_url": COMPOSE_INFLUX_URL}
    return settings.model_copy(update={k: v for k, v in wanted.items() if k not in settings.model_fields_set})


def _tenant_in_own_organisation(settings: PushSettings) -> bool:
    """Whether a tenant's Grafana objects would go to the installation's organisation (said on stderr)."""
    if settings.tenant is None or settings.grafana_org_id != 1:
        return False
    print(
        f"error: tenant {settings.tenant}'s dashboards need a Grafana organisation of its own: create one "
        "(Administration > Organizations) and set SUITCASE_GRAFANA_ORG_ID to its id in the tenant's tenant.env",
        file=sys.stderr,
    )
    return True


def run_export(args: argparse.Namespace, settings: PushSettings) -> int:
    if args.compose:
        settings = for_compose(settings)
    if _tenant_in_own_organisation(settings):
        return 1
    if not _export_once(args, settings):
        return 1
    if not args.watch:
        return 0
    registry = RegistryFile(args.registry).path
    seen = _stamp(registry)
    try:
        while True:
            time.sleep(WATCH_INTERVAL_S)
            now = _stamp(registry)
            if now != seen:
                seen = now
                _export_once(args, settings)  # a registry that does not load is said, and waited out
    except KeyboardInterrupt:
        return 0


WATCH_INTERVAL_S = 2.0


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return stat.st_mtime_ns, stat.st_size


def _export_once(args: argparse.Namespace, settings: PushSettings) -> bool:
    """Write the tree; with a Grafana token, have Grafana reload alerting when a rule file changed."""
    from iot_suitcase.dashboards.provisioning import export_tree  # noqa: PLC0415 (lazy, see above)

    bundle = _bundle(args, settings)
    if bundle is None:
        return False
    written = export_tree(bundle, args.directory)
    for path in written:
        print(path, flush=True)
    rules = sum(len(group.rules or []) for group in bundle.alerts.groups)
    print(f"{len(bundle.dashboards)} dashboards, {rules} alert rules; {_contact_note(bundle)}", file=sys.stderr)
    if settings.grafana_token is not None and any(path.parent.name == "alerting" for path in written):
        print(reload_alerting(settings.grafana_url, settings.grafana_token.get_secret_value()), file=sys.stderr)
    return True


def reload_alerting(grafana_url: str, token: str) -> str:
    """Ask Grafana to read its alerting provisioning files again (its admin provisioning API)."""
    url = f"{grafana_url.rstrip('/')}/api/admin/provisioning/alerting/reload"
    request = urllib.request.Request(url, method="POST", headers={"Authorization": f"Bearer {token}"})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310 (the configured Grafana)
            return f"Grafana reloaded its alert rules (HTTP {answer.status})"
    except OSError as error:
        return f"warning: Grafana did not reload its alert rules ({error}); they take effect at its next start"


def run_push(args: argparse.Namespace, settings: PushSettings) -> int:
    from grafana_client.client import GrafanaException  # noqa: PLC0415 (lazy, see above)

    from iot_suitcase.dashboards.push import WrongOrganisation, push  # noqa: PLC0415 (lazy, see above)

    if _tenant_in_own_organisation(settings):
        return 1
    if settings.grafana_token is None:
        print("error: no Grafana token: set SUITCASE_GRAFANA_TOKEN (or give --token)", file=sys.stderr)
        return 2
    bundle = _bundle(args, settings)
    if bundle is None:
        return 1
    token = settings.grafana_token.get_secret_value()
    try:
        report = asyncio.run(
            push(
                bundle,
                settings.grafana_url,
                token,
                org_id=settings.grafana_org_id,
                timeout_s=settings.grafana_timeout_s,
                rotate_secrets=args.rotate_secrets,
            )
        )
    except WrongOrganisation as error:
        print(f"error: {settings.grafana_url}: {error}", file=sys.stderr)
        return 1
    except (GrafanaException, OSError) as error:  # Grafana's answers, and connection failures (OSError)
        message = getattr(error, "message", None) or str(error)
        print(f"error: {settings.grafana_url}: {type(error).__name__}: {message}", file=sys.stderr)
        return 1
    for verb, names in (("created", report.created), ("updated", report.updated), ("deleted", report.deleted)):
        for name in names:
            print(f"{verb} {name}")
    for warning in report.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(f"{settings.grafana_url}: {report.summary()}; {_contact_note(bundle)}", file=sys.stderr)
    return 0
