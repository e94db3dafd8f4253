"""`push` against the FAKE Grafana (dashboards/testing_grafana.py): by uid, idempotent, following the registry."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
import yaml

from iot_suitcase.cli import main
from iot_suitcase.dashboards.conftest import BEARER, make_registry
from iot_suitcase.dashboards.generate import FOLDER_UID, HEALTH_UID, OVERVIEW_UID
from iot_suitcase.dashboards.provisioning import build_bundle
from iot_suitcase.dashboards.push import WrongOrganisation, contains, duration_s, push
from iot_suitcase.dashboards.settings import DashboardSettings
from iot_suitcase.dashboards.testing_grafana import FakeGrafana
from iot_suitcase.devices.registry import Registry, RegistryFile, make_spec

SETTINGS = DashboardSettings(alert_email="ops@city.example", influx_username="grafana", influx_password="s3cret")


async def test_first_push_creates_everything_by_uid(grafana: FakeGrafana, registry: Registry) -> None:
    bundle = build_bundle(registry, SETTINGS)
    report = await push(bundle, grafana.url, BEARER)
    assert report.updated == []
    assert report.deleted == []
    assert set(grafana.dashboards) == {board["uid"] for board in bundle.dashboards}
    assert all(grafana.dashboard_folders[uid] == FOLDER_UID for uid in grafana.dashboards)
    assert set(grafana.datasources) == {"suitcase-influxdb"}
    assert grafana.secrets["suitcase-influxdb"] == {"password": "s3cret"}
    assert {uid for uid in grafana.contact_points} == {"suitcase-email"}
    rules = {rule["uid"] for group in grafana.rule_groups.values() for rule in group["rules"]}
    assert "suitcase-device-silent" in rules
    assert len(report.created) == len(grafana.writes)
    stored = {k: v for k, v in grafana.dashboards[OVERVIEW_UID].items() if k not in ("id", "version")}
    assert stored == bundle.dashboard(OVERVIEW_UID)


async def test_second_push_writes_nothing(grafana: FakeGrafana, registry: Registry) -> None:
    bundle = build_bundle(registry, SETTINGS)
    first = await push(bundle, grafana.url, BEARER)
    writes = len(grafana.writes)
    assert writes > 0
    again = await push(build_bundle(make_registry(), SETTINGS), grafana.url, BEARER)
    assert grafana.writes[writes:] == []
    assert not again.changed
    assert sorted(again.unchanged) == sorted(first.created)
    # The fake answered "for" as "15m" and rule intervals as numbers; reads went through, writes did not.
    assert any(request.startswith("GET /api/v1/provisioning/folder/") for request in grafana.requests)


async def test_every_request_carries_the_bearer_token(grafana: FakeGrafana, registry: Registry) -> None:
    await push(build_bundle(registry, SETTINGS), grafana.url, BEARER)
    assert grafana.requests
    with pytest.raises(Exception, match="Unauthorized"):
        await push(build_bundle(registry, SETTINGS), grafana.url, "wrong-token")


async def test_a_new_kind_and_interval_appear_after_the_next_push(grafana: FakeGrafana, registry: Registry) -> None:
    registry.remove("c-light-1")
    await push(build_bundle(registry, SETTINGS), grafana.url, BEARER)
    writes = len(grafana.writes)
    assert "suitcase-kind-light" not in grafana.dashboards
    registry.add(make_spec({"id": "north-air-1", "model": "native", "site": "north", "kind": "air_quality"}))
    registry.add(
        make_spec({"id": "north-light-1", "model": "native", "site": "north", "kind": "light", "interval_s": 60})
    )
    changed = build_bundle(registry, SETTINGS)
    report = await push(changed, grafana.url, BEARER)
    assert "dashboard suitcase-kind-light" in report.created
    assert "rule group iot-suitcase-devices" in report.updated  # the silence rule has a 60 s window now
    # the overview gains the light quantities and the 60 s window, not a row: it repeats one row per site
    assert "dashboard suitcase-overview" in report.updated
    rows = [p["title"] for p in grafana.dashboards[OVERVIEW_UID]["panels"] if p["type"] == "row"]
    assert rows == ["Site $site"]
    assert "dashboard suitcase-pipeline" in report.unchanged
    assert len(grafana.writes) - writes == len(report.created) + len(report.updated) + len(report.deleted)


async def test_a_kind_nobody_has_any_more_loses_its_dashboard(grafana: FakeGrafana, registry: Registry) -> None:
    await push(build_bundle(registry, SETTINGS), grafana.url, BEARER)
    assert "suitcase-kind-light" in grafana.dashboards
    registry.remove("c-light-1")
    report = await push(build_bundle(registry, SETTINGS), grafana.url, BEARER)
    assert report.deleted == ["dashboard suitcase-kind-light"]
    assert "suitcase-kind-light" not in grafana.dashboards


async def test_dashboards_outside_ours_are_left_alone(grafana: FakeGrafana, registry: Registry) -> None:
    await push(build_bundle(registry, SETTINGS), grafana.url, BEARER)
    grafana.dashboards["team-board"] = {"uid": "team-board", "title": "Team", "id": 999, "version": 1}
    grafana.dashboard_folders["team-board"] = FOLDER_UID
    report = await push(build_bundle(registry, SETTINGS), grafana.url, BEARER)
    assert "team-board" in grafana.dashboards
    assert report.deleted == []


async def test_an_edit_made_in_grafana_is_overwritten(grafana: FakeGrafana, registry: Registry) -> None:
    bundle = build_bundle(registry, SETTINGS)
    await push(bundle, grafana.url, BEARER)
    grafana.dashboards[HEALTH_UID]["title"] = "Edited by hand"
    grafana.datasources["suitcase-influxdb"]["url"] = "http://elsewhere:8086"
    report = await push(bundle, grafana.url, BEARER)
    assert sorted(report.updated) == ["dashboard suitcase-device-health", "datasource suitcase-influxdb"]
    assert grafana.dashboards[HEALTH_UID]["title"] == "iot-suitcase: device health"
    assert grafana.datasources["suitcase-influxdb"]["url"] == SETTINGS.influx_url


async def test_secrets_are_sent_when_missing_or_rotated_only(grafana: FakeGrafana, registry: Registry) -> None:
    await push(build_bundle(registry, SETTINGS), grafana.url, BEARER)
    grafana.secrets["suitcase-influxdb"].clear()
    report = await push(build_bundle(registry, SETTINGS), grafana.url, BEARER)
    assert report.updated == ["datasource suitcase-influxdb"]
    assert grafana.secrets["suitcase-influxdb"] == {"password": "s3cret"}
    rotated = DashboardSettings(influx_username="grafana", influx_password="n3w", alert_email="ops@city.example")
    quiet = await push(build_bundle(registry, rotated), grafana.url, BEARER)
    assert quiet.updated == []  # Grafana cannot show the stored password, so a change alone is not detected
    loud = await push(build_bundle(registry, rotated), grafana.url, BEARER, rotate_secrets=True)
    assert loud.updated == ["datasource suitcase-influxdb"]
    assert grafana.secrets["suitcase-influxdb"] == {"password": "n3w"}


async def test_contact_point_follows_settings(grafana: FakeGrafana, registry: Registry) -> None:
    both = DashboardSettings(alert_email="ops@city.example", alert_webhook_url="https://hooks.city.example/grafana")
    await push(build_bundle(registry, both), grafana.url, BEARER)
    assert set(grafana.contact_points) == {"suitcase-email", "suitcase-webhook"}
    webhook_only = DashboardSettings(alert_webhook_url="https://hooks.city.example/grafana")
    report = await push(build_bundle(registry, webhook_only), grafana.url, BEARER)
    assert report.deleted == ["contact point suitcase-email"]
    assert grafana.contact_points["suitcase-webhook"]["settings"]["url"] == "https://hooks.city.example/grafana"
    nobody = await push(build_bundle(registry, DashboardSettings()), grafana.url, BEARER)
    assert nobody.deleted == ["contact point suitcase-webhook"]
    assert all("notification_settings" not in rule for group in grafana.rule_groups.values() for rule in group["rules"])


async def test_the_fake_refuses_what_grafana_refuses(grafana: FakeGrafana) -> None:
    headers = {"Authorization": f"Bearer {BEARER}"}
    async with aiohttp.ClientSession(grafana.url, headers=headers) as session:
        async with session.post("/api/folders", json={"uid": "x"}) as response:
            assert response.status == 400  # no title
        async with session.get("/api/dashboards/uid/nope") as response:
            assert response.status == 404
        async with session.post("/api/datasources", json={"name": "n", "type": "influxdb"}) as response:
            assert response.status == 400  # no access
        rule = {
            "uid": "r1",
            "title": "t",
            "condition": "A",
            "data": [{"refId": "A", "datasourceUid": "missing", "model": {}}],
            "noDataState": "OK",
            "execErrState": "Error",
            "for": "5m",
            "folderUID": "f",
            "ruleGroup": "g",
        }
        await session.post("/api/folders", json={"uid": "f", "title": "F"})
        body = {"title": "g", "folderUid": "f", "interval": 60, "rules": [rule]}
        async with session.put("/api/v1/provisioning/folder/f/rule-groups/g", json=body) as response:
            assert response.status == 400
            assert "does not exist" in (await response.json())["message"]
        async with session.put(
            "/api/v1/provisioning/folder/f/rule-groups/g", json={**body, "interval": 45}
        ) as response:
            assert response.status == 400
    async with aiohttp.ClientSession(grafana.url) as session, session.get("/api/folders/f") as response:
        assert response.status == 401
    assert grafana.writes == ["POST /api/folders"]  # only the valid folder was written


def test_comparison_helpers() -> None:
    assert contains({"a": 1, "b": {"c": [1, 2]}, "x": 0}, {"a": 1.0, "b": {"c": [1, 2]}})
    assert not contains({"a": 1, "b": {"c": [1]}}, {"b": {"c": [1, 2]}})
    assert not contains({"a": 1}, {"a": 1, "b": 2})
    assert contains({"settings": {"url": "[REDACTED]"}}, {"settings": {"url": "https://x"}})
    assert duration_s("15m") == duration_s("15m0s") == 900
    assert duration_s("1h30m") == 5400
    with pytest.raises(ValueError, match="not a duration"):
        duration_s("soon")


@contextlib.contextmanager
def fake_in_thread() -> Iterator[FakeGrafana]:
    """The fake on its own event loop, for the CLI (which runs its own loop with asyncio.run)."""
    loop = asyncio.new_event_loop()
    fake = FakeGrafana(BEARER)
    ready = threading.Event()

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(fake.__aenter__())
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert ready.wait(10)
    try:
        yield fake
    finally:
        asyncio.run_coroutine_threadsafe(fake.__aexit__(None, None, None), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


def write_registry(path: Path) -> Path:
    RegistryFile(path).save(make_registry())
    return path


def test_cli_push_then_push_again(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    registry = write_registry(tmp_path / "registry.yaml")
    monkeypatch.setenv("SUITCASE_GRAFANA_TOKEN", BEARER)
    with fake_in_thread() as fake:
        args = ["dashboards", "push", "--grafana-url", fake.url, "--registry", str(registry)]
        assert main(args) == 0
        first = capsys.readouterr()
        assert "created dashboard suitcase-overview" in first.out
        assert "no contact point" in first.err
        writes = len(fake.writes)
        assert main([*args, "--token", BEARER]) == 0
        second = capsys.readouterr()
        assert second.out == ""
        assert "0 created, 0 updated, 0 deleted" in second.err
        assert len(fake.writes) == writes
        assert main([*args, "--token", "not-it"]) == 1
        assert "Unauthorized" in capsys.readouterr().err


def test_cli_push_needs_a_token(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SUITCASE_GRAFANA_TOKEN", raising=False)
    assert main(["dashboards", "push", "--registry", str(write_registry(tmp_path / "r.yaml"))]) == 2
    assert "no Grafana token" in capsys.readouterr().err


def test_cli_refuses_a_broken_registry(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = tmp_path / "registry.yaml"
    broken.write_text(yaml.safe_dump({"version": 1, "devices": [{"id": "x"}]}))
    assert main(["dashboards", "export", str(tmp_path / "out"), "--registry", str(broken)]) == 1
    assert "required" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_cli_push_says_when_grafana_is_unreachable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SUITCASE_GRAFANA_TOKEN", BEARER)
    registry = write_registry(tmp_path / "r.yaml")
    args = ["dashboards", "push", "--grafana-url", "http://127.0.0.1:9", "--grafana-timeout-s", "2"]
    assert main([*args, "--registry", str(registry)]) == 1
    assert "http://127.0.0.1:9" in capsys.readouterr().err


async def test_a_token_of_another_organisation_writes_nothing(registry: Registry) -> None:
    """#18: a tenant's objects pushed with a token of the installation's organisation would land where the
    installation's users see them; push checks the token's organisation first and writes nothing."""
    bundle = build_bundle(registry, SETTINGS)
    async with FakeGrafana(BEARER, org_id=1) as installations:
        with pytest.raises(WrongOrganisation, match=r"organisation 1 .* is for organisation 2"):
            await push(bundle, installations.url, BEARER, org_id=2)
        assert installations.writes == []
    async with FakeGrafana(BEARER, org_id=2) as tenants:
        report = await push(bundle, tenants.url, BEARER, org_id=2)
        assert report.created
