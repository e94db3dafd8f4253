"""Create or update the generated objects in a running Grafana over its HTTP API, by uid, idempotently.

Every object is read first and written only if it differs from what is generated, so a second push
with the same registry and settings writes nothing. What differs is judged on the fields this project
sets (Grafana adds ids, versions, provenance, defaults): dashboards must match exactly apart from id and
version (an edit made in the UI is overwritten), datasources, contact points and rule groups must
contain everything generated.

Uses grafana-client's async API (``AsyncGrafanaApi``) with a service-account token, sent as
``Authorization: Bearer``. Dashboards and contact points this project generated earlier and no longer
generates (a kind nobody has any more, an alert channel no longer configured) are deleted; nothing else
in that Grafana is touched, the notification policy tree included (rules name their contact point
directly, with Grafana's per-rule notification settings).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any

from grafana_client import AsyncGrafanaApi
from grafana_client.client import GrafanaClientError

from iot_suitcase.dashboards.generate import FOLDER_TITLE, FOLDER_UID, UID_PREFIX
from iot_suitcase.dashboards.provisioning import Bundle, Datasource, to_json

REDACTED = "[REDACTED]"
_OWN_CONTACT_POINTS = {"suitcase-email", "suitcase-webhook"}
_DURATION = re.compile(r"(\d+)(ms|s|m|h|d|w|y)")
_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400, "y": 365 * 86400}


@dataclass
class PushReport:
    """What a push did, per object ("dashboard suitcase-overview", "rule group iot-suitcase-devices", ...)."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated or self.deleted)

    def summary(self) -> str:
        parts = [f"{len(self.created)} created", f"{len(self.updated)} updated", f"{len(self.deleted)} deleted"]
        return ", ".join(parts) + f", {len(self.unchanged)} unchanged"


def contains(actual: Any, desired: Any) -> bool:
    """Whether ``actual`` has everything ``desired`` has: extra keys in mappings are allowed, lists match
    item by item, numbers compare by value, and a secret Grafana redacts counts as equal."""
    if isinstance(desired, dict):
        return isinstance(actual, dict) and all(
            key in actual and contains(actual[key], v) for key, v in desired.items()
        )
    if isinstance(desired, list):
        return (
            isinstance(actual, list)
            and len(actual) == len(desired)
            and all(contains(a, d) for a, d in zip(actual, desired, strict=True))
        )
    if actual == REDACTED:
        return True
    return bool(actual == desired)


def duration_s(text: str) -> float:
    """Seconds of a Go/Prometheus duration ("15m", "1h30m", "0s"): Grafana may answer "15m" as "15m0s"."""
    parts = _DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"not a duration: {text!r}")
    return sum(int(number) * _SECONDS[unit] for number, unit in parts)


# Rule fields Grafana stores as given: they must be equal (a label or a receiver too many is a difference).
_RULE_EXACT = (
    *("title", "condition", "noDataState", "execErrState", "labels", "annotations"),
    *("isPaused", "folderUID", "ruleGroup", "notification_settings"),
)


def rule_group_matches(actual: dict[str, Any], desired: dict[str, Any]) -> bool:
    """Whether Grafana's rule group is the generated one: same interval and rules; in each rule the fields
    set here equal (``for`` by duration) and the queries containing the generated ones (Grafana may add
    defaults to query models)."""
    if actual.get("interval") != desired.get("interval"):
        return False
    have = {rule.get("uid"): rule for rule in actual.get("rules", [])}
    want = {rule.get("uid"): rule for rule in desired.get("rules", [])}
    if have.keys() != want.keys():
        return False
    for uid, rule in want.items():
        stored = have[uid]
        if any(stored.get(key) != rule.get(key) for key in _RULE_EXACT):
            return False
        if duration_s(str(stored.get("for", "0s"))) != duration_s(str(rule.get("for", "0s"))):
            return False
        if not contains(stored.get("data"), rule.get("data")):
            return False
    return True


async def _maybe(call: Awaitable[Any]) -> Any:
    """The response, or None when Grafana answers 404."""
    try:
        return await call
    except GrafanaClientError as error:
        if error.status_code == 404:
            return None
        raise


class WrongOrganisation(Exception):
    """The token is of another Grafana organisation than the one the push is for: nothing was written."""


class Pusher:
    """One push of a ``Bundle`` to one Grafana organisation (``org_id``: the token's must be it)."""

    def __init__(self, api: AsyncGrafanaApi, bundle: Bundle, *, org_id: int = 1, rotate_secrets: bool = False) -> None:
        self.api = api
        self.bundle = bundle
        self.org_id = org_id
        self.rotate_secrets = rotate_secrets
        self.report = PushReport()

    async def run(self) -> PushReport:
        await self._check_organisation()
        await self._folder()
        for source in self.bundle.datasources:
            await self._datasource(source)
        for board in self.bundle.dashboards:
            await self._dashboard(board)
        await self._stale_dashboards()
        await self._contact_points()
        for group in self.bundle.alerts.groups:
            await self._rule_group(to_json(group))
        await self._stale_contact_points()
        return self.report

    async def _check_organisation(self) -> None:
        """A service account's token works in its own organisation only; a tenant's objects pushed with the
        installation's token would land where the installation's users see them (its datasource among them)."""
        org = await self.api.organization.get_current_organization()
        if int(org.get("id", 0)) != self.org_id:
            raise WrongOrganisation(
                f"the token belongs to Grafana organisation {org.get('id')} ({org.get('name', '?')}), but this push "
                f"is for organisation {self.org_id} (SUITCASE_GRAFANA_ORG_ID): use a service account token of that "
                "organisation; nothing was written"
            )

    async def _folder(self) -> None:
        name = f"folder {FOLDER_UID}"
        found = await _maybe(self.api.folder.get_folder(FOLDER_UID))
        if found is None:
            await self.api.folder.create_folder(FOLDER_TITLE, uid=FOLDER_UID)
            self.report.created.append(name)
        elif found.get("title") != FOLDER_TITLE:
            await self.api.folder.update_folder(FOLDER_UID, title=FOLDER_TITLE, overwrite=True)
            self.report.updated.append(name)
        else:
            self.report.unchanged.append(name)

    async def _datasource(self, source: Datasource) -> None:
        name = f"datasource {source.uid}"
        desired = source.plain()
        known = {key: secret.actual for key, secret in source.secure.items() if secret.actual is not None}
        missing = sorted(key for key, secret in source.secure.items() if secret.actual is None)
        if missing:
            self.report.warnings.append(
                f"{name}: no value for {', '.join(missing)} in this environment "
                f"({', '.join(source.secure[key].env for key in missing)}); Grafana keeps what it has"
            )
        body = {**desired, "secureJsonData": known} if known else desired
        found = await _maybe(self.api.datasource.get_datasource_by_uid(source.uid))
        if found is None:
            await self.api.datasource.create_datasource(body)
            self.report.created.append(name)
            return
        secure_set = {key for key, is_set in (found.get("secureJsonFields") or {}).items() if is_set}
        if contains(found, desired) and set(known) <= secure_set and not (self.rotate_secrets and known):
            self.report.unchanged.append(name)
            return
        await self.api.datasource.update_datasource_by_uid(source.uid, body)
        self.report.updated.append(name)

    async def _dashboard(self, board: dict[str, Any]) -> None:
        name = f"dashboard {board['uid']}"
        found = await _maybe(self.api.dashboard.get_dashboard(board["uid"]))
        if found is not None:
            stored = {k: v for k, v in found.get("dashboard", {}).items() if k not in ("id", "version")}
            if stored == board and found.get("meta", {}).get("folderUid") == FOLDER_UID:
                self.report.unchanged.append(name)
                return
        await self.api.dashboard.update_dashboard(
            {
                "dashboard": board,
                "folderUid": FOLDER_UID,
                "overwrite": True,
                "message": "suitcase dashboards push: generated from the registry and the catalog",
            }
        )
        (self.report.created if found is None else self.report.updated).append(name)

    async def _stale_dashboards(self) -> None:
        wanted = {board["uid"] for board in self.bundle.dashboards}
        found = await self.api.search.search_dashboards(type_="dash-db", folder_uids=FOLDER_UID)
        for item in found or []:
            uid = str(item.get("uid", ""))
            if uid.startswith(UID_PREFIX) and uid not in wanted and item.get("folderUid", FOLDER_UID) == FOLDER_UID:
                await self.api.dashboard.delete_dashboard(uid)
                self.report.deleted.append(f"dashboard {uid}")

    async def _contact_points(self) -> None:
        existing = {point.get("uid"): point for point in await self.api.alertingprovisioning.get_contactpoints()}
        for point in map(to_json, self.bundle.alerts.contact_points):
            name = f"contact point {point['uid']}"
            found = existing.get(point["uid"])
            if found is None:
                await self.api.alertingprovisioning.create_contactpoint(point)
                self.report.created.append(name)
            elif contains(found, point):
                self.report.unchanged.append(name)
            else:
                await self.api.alertingprovisioning.update_contactpoint(point["uid"], point)
                self.report.updated.append(name)

    async def _stale_contact_points(self) -> None:
        wanted = {to_json(point)["uid"] for point in self.bundle.alerts.contact_points}
        for point in await self.api.alertingprovisioning.get_contactpoints():
            uid = point.get("uid")
            if uid in _OWN_CONTACT_POINTS and uid not in wanted:
                await self.api.alertingprovisioning.delete_contactpoint(uid)
                self.report.deleted.append(f"contact point {uid}")

    async def _rule_group(self, group: dict[str, Any]) -> None:
        name = f"rule group {group['title']}"
        found = await _maybe(self.api.alertingprovisioning.get_rule_group(FOLDER_UID, group["title"]))
        if found is not None and rule_group_matches(found, group):
            self.report.unchanged.append(name)
            return
        await self.api.alertingprovisioning.update_rule_group(FOLDER_UID, group["title"], group)
        (self.report.created if found is None else self.report.updated).append(name)


async def push(
    bundle: Bundle,
    url: str,
    token: str,
    *,
    org_id: int = 1,
    timeout_s: float = 30.0,
    rotate_secrets: bool = False,
) -> PushReport:
    """Push ``bundle`` to organisation ``org_id`` of the Grafana at ``url`` with a service-account ``token`` of
    that organisation."""
    api = AsyncGrafanaApi.from_url(url, credential=token, timeout=timeout_s)
    try:
        return await Pusher(api, bundle, org_id=org_id, rotate_secrets=rotate_secrets).run()
    finally:
        await api.client.s.close()
