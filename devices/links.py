"""Names by which the parts of the platform link to each other without importing each other: the console
links a device to its kind's Grafana dashboard, which the dashboards package generates under this uid."""

from __future__ import annotations

from urllib.parse import quote, urlencode

KIND_DASHBOARD_UID_PREFIX = "suitcase-kind-"


def kind_dashboard_uid(kind: str) -> str:
    return f"{KIND_DASHBOARD_UID_PREFIX}{kind}"


def kind_dashboard_url(grafana_url: str, kind: str, device_id: str) -> str:
    """The kind's dashboard in Grafana, showing one device (its ``device`` variable set)."""
    return f"{grafana_url.rstrip('/')}/d/{quote(kind_dashboard_uid(kind))}?{urlencode({'var-device': device_id})}"
