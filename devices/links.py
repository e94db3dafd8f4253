"""Names by which the parts of the platform link to each other without importing each other: the console
links a device to its kind's Grafana dashboard and to the device-health dashboard, which the dashboards
package generates under these uids."""

from __future__ import annotations

from urllib.parse import quote, urlencode

KIND_DASHBOARD_UID_PREFIX = "suitcase-kind-"
DEVICE_HEALTH_UID = "suitcase-device-health"  # every device: reporting, battery, radio, rejects


def kind_dashboard_uid(kind: str) -> str:
    return f"{KIND_DASHBOARD_UID_PREFIX}{kind}"


def dashboard_url(grafana_url: str, uid: str, device_id: str) -> str:
    """A dashboard in Grafana showing one device (its ``device`` variable set)."""
    return f"{grafana_url.rstrip('/')}/d/{quote(uid)}?{urlencode({'var-device': device_id})}"


def kind_dashboard_url(grafana_url: str, kind: str, device_id: str) -> str:
    return dashboard_url(grafana_url, kind_dashboard_uid(kind), device_id)


def health_dashboard_url(grafana_url: str, device_id: str) -> str:
    return dashboard_url(grafana_url, DEVICE_HEALTH_UID, device_id)
