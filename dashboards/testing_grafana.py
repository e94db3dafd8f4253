"""A FAKE Grafana HTTP API for tests: it is not Grafana and must never be mistaken for one.

Grafana cannot be installed where these tests run, so `suitcase dashboards push` is tested against this
stand-in. It implements the handful of endpoints push uses, as Grafana 11's HTTP API documentation
describes them (folders, data sources, dashboards, search, alerting provisioning), and it is strict where
Grafana is: every request needs ``Authorization: Bearer <token>``, bodies must carry the documented required
fields with valid values, references must resolve (folders, data sources, contact points), and uids,
names and titles must be unique where Grafana requires it. It keeps state, so a second push really reads
back what the first wrote, and it counts every write (POST, PUT, DELETE), which is how the tests prove that
a repeated push changes nothing.

Like Grafana it adds what the server owns (ids, versions, ``provenance: api``, ``secureJsonFields``) and
hides secrets, and it answers a rule's ``for`` in Prometheus duration form (``15m``, ``1h30m``, ``0s``).
"""

from __future__ import annotations

import re
import socket
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

Json = dict[str, Any]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_UID = re.compile(r"^[a-zA-Z0-9_-]{1,40}$")
_DURATION = re.compile(r"^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$")
_DURATION_UNITS = (("y", 365 * 86400), ("w", 7 * 86400), ("d", 86400), ("h", 3600), ("m", 60), ("s", 1))
NO_DATA_STATES = {"Alerting", "NoData", "OK", "KeepLast"}
EXEC_ERR_STATES = {"OK", "Alerting", "Error", "KeepLast"}
CONTACT_TYPES = {"email": "addresses", "webhook": "url"}  # type -> the setting Grafana requires for it
EXPRESSION_UID = "__expr__"


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _seconds(duration: str) -> int:
    match = _DURATION.match(duration)
    if not duration or match is None:
        raise ApiError(400, f"invalid duration {duration!r}")
    return sum(int(part or 0) * size for part, (_, size) in zip(match.groups()[:6], _DURATION_UNITS, strict=True))


def _prometheus_duration(seconds: int) -> str:
    """How Grafana (Prometheus' model.Duration) writes a duration back: "15m", "1h30m", "0s"."""
    if seconds == 0:
        return "0s"
    text = ""
    for unit, size in _DURATION_UNITS:
        if seconds >= size:
            text += f"{seconds // size}{unit}"
            seconds %= size
    return text


def _require(body: Json, *fields: str) -> None:
    missing = [name for name in fields if body.get(name) in (None, "")]
    if missing:
        raise ApiError(400, f"bad request data: missing {', '.join(missing)}")


def _object(value: object, what: str) -> Json:
    if not isinstance(value, dict):
        raise ApiError(400, f"bad request data: {what} must be a JSON object")
    return value


class FakeGrafana:
    """In-memory Grafana stand-in on a loopback port (``async with FakeGrafana(token) as grafana``)."""

    def __init__(self, token: str, org_id: int = 1) -> None:
        self.token = token
        self.org_id = org_id  # the organisation the token (a service account's) belongs to
        self.folders: dict[str, Json] = {}
        self.datasources: dict[str, Json] = {}
        self.secrets: dict[str, dict[str, str]] = {}
        self.dashboards: dict[str, Json] = {}
        self.dashboard_folders: dict[str, str] = {}
        self.contact_points: dict[str, Json] = {}
        self.rule_groups: dict[tuple[str, str], Json] = {}
        self.writes: list[str] = []
        self.requests: list[str] = []
        self._next_id = 0
        self._runner: web.AppRunner | None = None
        self.url = ""

    # --- lifecycle ---------------------------------------------------------------------------------------
    async def __aenter__(self) -> FakeGrafana:
        self._runner = web.AppRunner(self.app())
        await self._runner.setup()
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        site = web.SockSite(self._runner, sock)
        await site.start()
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        return self

    async def __aexit__(self, *_exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware])
        routes = [
            web.get("/api/health", self.health),
            web.get("/api/org", self.current_org),
            web.get("/api/folders/{uid}", self.get_folder),
            web.post("/api/folders", self.create_folder),
            web.put("/api/folders/{uid}", self.update_folder),
            web.get("/api/datasources/uid/{uid}", self.get_datasource),
            web.post("/api/datasources", self.create_datasource),
            web.put("/api/datasources/uid/{uid}", self.update_datasource),
            web.get("/api/dashboards/uid/{uid}", self.get_dashboard),
            web.post("/api/dashboards/db", self.save_dashboard),
            web.delete("/api/dashboards/uid/{uid}", self.delete_dashboard),
            web.get("/api/search", self.search),
            web.get("/api/v1/provisioning/contact-points", self.list_contact_points),
            web.post("/api/v1/provisioning/contact-points", self.create_contact_point),
            web.put("/api/v1/provisioning/contact-points/{uid}", self.update_contact_point),
            web.delete("/api/v1/provisioning/contact-points/{uid}", self.delete_contact_point),
            web.get("/api/v1/provisioning/folder/{folder}/rule-groups/{group}", self.get_rule_group),
            web.put("/api/v1/provisioning/folder/{folder}/rule-groups/{group}", self.put_rule_group),
        ]
        app.add_routes(routes)
        return app

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        self.requests.append(f"{request.method} {request.path}")
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return web.json_response({"message": "Unauthorized"}, status=401)
        try:
            response = await handler(request)
        except ApiError as error:
            return web.json_response({"message": error.message}, status=error.status)
        if request.method in ("POST", "PUT", "DELETE", "PATCH"):
            self.writes.append(f"{request.method} {request.path}")
        return response

    def _id(self) -> int:
        self._next_id += 1
        return self._next_id

    @staticmethod
    async def _body(request: web.Request) -> Json:
        if request.content_type != "application/json":
            raise ApiError(415, "Content-Type must be application/json")
        try:
            body = await request.json()
        except ValueError:
            raise ApiError(400, "bad request data: not JSON") from None
        return _object(body, "the body")

    async def health(self, _request: web.Request) -> web.Response:
        return web.json_response({"database": "ok", "version": "11.6.0-fake"})

    async def current_org(self, _request: web.Request) -> web.Response:
        """GET /api/org: the organisation of the caller (a service account's token belongs to exactly one)."""
        return web.json_response({"id": self.org_id, "name": f"Org {self.org_id}", "address": {}})

    # --- folders: GET /api/folders/:uid, POST /api/folders, PUT /api/folders/:uid --------------------------
    async def get_folder(self, request: web.Request) -> web.Response:
        folder = self.folders.get(request.match_info["uid"])
        if folder is None:
            raise ApiError(404, "folder not found")
        return web.json_response(folder)

    async def create_folder(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        _require(body, "title")
        uid = body.get("uid") or f"f{self._id()}"
        if not _UID.match(uid):
            raise ApiError(400, "uid contains illegal characters or is too long")
        if uid in self.folders:
            raise ApiError(409, "a folder with the same uid already exists")
        if any(folder["title"] == body["title"] for folder in self.folders.values()):
            raise ApiError(409, "a folder with the same name already exists")
        folder = {"id": self._id(), "uid": uid, "title": body["title"], "url": f"/dashboards/f/{uid}/", "version": 1}
        self.folders[uid] = folder
        return web.json_response(folder)

    async def update_folder(self, request: web.Request) -> web.Response:
        folder = self.folders.get(request.match_info["uid"])
        if folder is None:
            raise ApiError(404, "folder not found")
        body = await self._body(request)
        _require(body, "title")
        if not body.get("overwrite") and body.get("version") != folder["version"]:
            raise ApiError(412, "the folder has been changed by someone else")
        folder.update(title=body["title"], version=folder["version"] + 1)
        return web.json_response(folder)

    # --- data sources ----------------------------------------------------------------------------------------
    def _datasource_view(self, uid: str) -> Json:
        stored = self.datasources[uid]
        return {**stored, "secureJsonFields": dict.fromkeys(self.secrets.get(uid, {}), True)}

    async def get_datasource(self, request: web.Request) -> web.Response:
        uid = request.match_info["uid"]
        if uid not in self.datasources:
            raise ApiError(404, "Data source not found")
        return web.json_response(self._datasource_view(uid))

    def _store_datasource(self, body: Json, uid: str, existing: Json | None) -> Json:
        _require(body, "name", "type", "access")
        if body["access"] not in ("proxy", "direct"):
            raise ApiError(400, "access must be proxy or direct")
        if any(ds["name"] == body["name"] and ds["uid"] != uid for ds in self.datasources.values()):
            raise ApiError(409, "data source with the same name already exists")
        secure = _object(body.get("secureJsonData", {}), "secureJsonData")
        stored = {key: value for key, value in body.items() if key not in ("secureJsonData", "secureJsonFields", "id")}
        stored.update(
            uid=uid,
            id=existing["id"] if existing else self._id(),
            orgId=1,
            version=(existing["version"] + 1) if existing else 1,
            readOnly=False,
        )
        stored.setdefault("jsonData", {})
        self.datasources[uid] = stored
        self.secrets.setdefault(uid, {}).update({key: str(value) for key, value in secure.items()})
        return self._datasource_view(uid)

    async def create_datasource(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        uid = body.get("uid") or f"d{self._id()}"
        if not _UID.match(uid):
            raise ApiError(400, "uid contains illegal characters or is too long")
        if uid in self.datasources:
            raise ApiError(409, "data source with the same uid already exists")
        view = self._store_datasource(body, uid, None)
        return web.json_response(
            {"datasource": view, "id": view["id"], "message": "Datasource added", "name": view["name"]}
        )

    async def update_datasource(self, request: web.Request) -> web.Response:
        uid = request.match_info["uid"]
        existing = self.datasources.get(uid)
        if existing is None:
            raise ApiError(404, "Data source not found")
        view = self._store_datasource(await self._body(request), uid, existing)
        return web.json_response(
            {"datasource": view, "id": view["id"], "message": "Datasource updated", "name": view["name"]}
        )

    # --- dashboards --------------------------------------------------------------------------------------------
    async def get_dashboard(self, request: web.Request) -> web.Response:
        uid = request.match_info["uid"]
        board = self.dashboards.get(uid)
        if board is None:
            raise ApiError(404, "Dashboard not found")
        folder = self.dashboard_folders.get(uid, "")
        meta = {
            "folderUid": folder,
            "folderTitle": self.folders[folder]["title"] if folder in self.folders else "General",
            "version": board["version"],
            "provisioned": False,
            "url": f"/d/{uid}",
        }
        return web.json_response({"dashboard": board, "meta": meta})

    async def save_dashboard(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        board = _object(body.get("dashboard"), "dashboard")
        _require(board, "title")
        folder = body.get("folderUid") or ""
        if folder and folder not in self.folders:
            raise ApiError(400, "folder not found")
        uid = board.get("uid") or f"b{self._id()}"
        if not _UID.match(uid):
            raise ApiError(400, "uid contains illegal characters or is too long")
        existing = self.dashboards.get(uid)
        overwrite = bool(body.get("overwrite"))
        if existing is not None and not overwrite and board.get("version") != existing["version"]:
            raise ApiError(412, "The dashboard has been changed by someone else")
        clash = [
            other
            for other, stored in self.dashboards.items()
            if other != uid and stored["title"] == board["title"] and self.dashboard_folders.get(other, "") == folder
        ]
        if clash:
            raise ApiError(412, "A dashboard with the same name in the folder already exists")
        stored = {**board, "uid": uid, "id": existing["id"] if existing else self._id()}
        stored["version"] = (existing["version"] + 1) if existing else 1
        self.dashboards[uid] = stored
        self.dashboard_folders[uid] = folder
        return web.json_response(
            {"id": stored["id"], "uid": uid, "url": f"/d/{uid}", "status": "success", "version": stored["version"]}
        )

    async def delete_dashboard(self, request: web.Request) -> web.Response:
        uid = request.match_info["uid"]
        board = self.dashboards.pop(uid, None)
        if board is None:
            raise ApiError(404, "Dashboard not found")
        self.dashboard_folders.pop(uid, None)
        return web.json_response({"title": board["title"], "message": "Dashboard deleted", "id": board["id"]})

    async def search(self, request: web.Request) -> web.Response:
        kind = request.query.get("type", "dash-db")
        folders = set(request.query.getall("folderUIDs", []))
        if kind != "dash-db":
            return web.json_response([])
        found = [
            {
                "id": board["id"],
                "uid": uid,
                "title": board["title"],
                "type": "dash-db",
                "tags": board.get("tags", []),
                "folderUid": self.dashboard_folders.get(uid, ""),
            }
            for uid, board in sorted(self.dashboards.items())
            if not folders or self.dashboard_folders.get(uid, "") in folders
        ]
        return web.json_response(found)

    # --- contact points ----------------------------------------------------------------------------------------
    def _contact_view(self, point: Json) -> Json:
        # Grafana redacts secure settings; none of email/webhook's are secure in our use, so nothing to hide.
        return {**point, "provenance": "api"}

    async def list_contact_points(self, request: web.Request) -> web.Response:
        name = request.query.get("name")
        points = [self._contact_view(p) for p in self.contact_points.values() if name in (None, p.get("name"))]
        return web.json_response(points)

    def _check_contact(self, body: Json) -> None:
        _require(body, "type")
        if body["type"] not in CONTACT_TYPES:
            raise ApiError(400, f"unsupported contact point type {body['type']!r} in this fake")
        settings = _object(body.get("settings"), "settings")
        required = CONTACT_TYPES[body["type"]]
        if not settings.get(required):
            raise ApiError(400, f"failed to validate integration: could not find {required} property in settings")

    async def create_contact_point(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        self._check_contact(body)
        uid = body.get("uid") or f"c{self._id()}"
        if not _UID.match(uid) or uid in self.contact_points:
            raise ApiError(400, "invalid or duplicate uid")
        point = {**body, "uid": uid, "name": body.get("name") or uid}
        self.contact_points[uid] = point
        return web.json_response(self._contact_view(point), status=202)

    async def update_contact_point(self, request: web.Request) -> web.Response:
        uid = request.match_info["uid"]
        if uid not in self.contact_points:
            raise ApiError(404, "contact point not found")
        body = await self._body(request)
        self._check_contact(body)
        self.contact_points[uid] = {**body, "uid": uid, "name": body.get("name") or uid}
        return web.json_response(self._contact_view(self.contact_points[uid]), status=202)

    async def delete_contact_point(self, request: web.Request) -> web.Response:
        uid = request.match_info["uid"]
        point = self.contact_points.get(uid)
        if point is None:
            raise ApiError(404, "contact point not found")
        same_name = [p for p in self.contact_points.values() if p["name"] == point["name"]]
        if len(same_name) == 1 and point["name"] in self._receivers_in_use():
            raise ApiError(409, "contact point is referenced by an alert rule")
        del self.contact_points[uid]
        return web.json_response({"message": "contactpoint deleted"}, status=202)

    def _receivers_in_use(self) -> set[str]:
        return {
            rule["notification_settings"]["receiver"]
            for group in self.rule_groups.values()
            for rule in group["rules"]
            if rule.get("notification_settings")
        }

    # --- alert rule groups -------------------------------------------------------------------------------------
    async def get_rule_group(self, request: web.Request) -> web.Response:
        group = self.rule_groups.get((request.match_info["folder"], request.match_info["group"]))
        if group is None:
            raise ApiError(404, "rule group does not exist")
        return web.json_response(group)

    async def put_rule_group(self, request: web.Request) -> web.Response:
        folder, title = request.match_info["folder"], request.match_info["group"]
        if folder not in self.folders:
            raise ApiError(400, "folder does not exist")
        body = await self._body(request)
        _require(body, "interval")
        if body.get("title", title) != title:
            raise ApiError(400, "the group title in the body differs from the one in the path")
        interval = body["interval"]
        if not isinstance(interval, int) or interval <= 0 or interval % 10:
            raise ApiError(400, "interval must be a positive multiple of 10 seconds")
        rules = body.get("rules")
        if not isinstance(rules, list):
            raise ApiError(400, "rules must be a list")
        previous = self.rule_groups.get((folder, title), {"rules": []})
        old = {rule["uid"]: rule for rule in previous["rules"]}
        stored_rules = [self._check_rule(_object(rule, "a rule"), folder, title, old) for rule in rules]
        titles = [rule["title"] for rule in stored_rules]
        taken = {
            rule["title"]
            for (other_folder, other), group in self.rule_groups.items()
            if other_folder == folder and other != title
            for rule in group["rules"]
        }
        if len(set(titles)) != len(titles) or taken & set(titles):
            raise ApiError(409, "rule titles must be unique within a folder")
        group = {"title": title, "folderUid": folder, "interval": interval, "rules": stored_rules}
        self.rule_groups[(folder, title)] = group
        return web.json_response(group)

    def _check_rule(self, rule: Json, folder: str, group: str, old: dict[str, Json]) -> Json:
        _require(rule, "title", "condition", "data", "noDataState", "execErrState", "for", "folderUID", "ruleGroup")
        uid = rule.get("uid") or f"r{self._id()}"
        if not _UID.match(uid):
            raise ApiError(400, f"invalid rule uid {uid!r}")
        if rule["folderUID"] != folder or rule["ruleGroup"] != group:
            raise ApiError(400, f"rule {uid}: folderUID and ruleGroup must match the path")
        if rule["noDataState"] not in NO_DATA_STATES or rule["execErrState"] not in EXEC_ERR_STATES:
            raise ApiError(400, f"rule {uid}: invalid noDataState or execErrState")
        if "$" in rule["title"]:
            raise ApiError(400, f"rule {uid}: a title is not a template")
        data = rule["data"]
        if not isinstance(data, list) or not data:
            raise ApiError(400, f"rule {uid}: data must be a non-empty list of queries")
        ref_ids = set()
        for query in data:
            _require(_object(query, "a query"), "refId", "datasourceUid", "model")
            source = query["datasourceUid"]
            if source != EXPRESSION_UID and source not in self.datasources:
                raise ApiError(400, f"rule {uid}: data source {source!r} does not exist")
            _object(query["model"], "a query model")
            ref_ids.add(query["refId"])
        if rule["condition"] not in ref_ids:
            raise ApiError(400, f"rule {uid}: condition {rule['condition']!r} is not a query refId")
        receiver = (rule.get("notification_settings") or {}).get("receiver")
        if receiver is not None and receiver not in {p["name"] for p in self.contact_points.values()}:
            raise ApiError(400, f"rule {uid}: contact point {receiver!r} does not exist")
        stored = {key: value for key, value in rule.items() if key not in ("id", "updated", "provenance")}
        stored.update(
            uid=uid,
            id=old[uid]["id"] if uid in old else self._id(),
            orgID=1,
            provenance="api",
            updated="2026-01-01T00:00:00Z",
            isPaused=bool(rule.get("isPaused", False)),
        )
        stored["for"] = _prometheus_duration(_seconds(str(rule["for"])))
        return stored
