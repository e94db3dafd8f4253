"""`suitcase dashboards export DIR`: the tree has the shape Grafana's provisioning documentation gives.

The shapes below are those of Grafana 11's provisioning docs (administration/provisioning and
alerting/set-up/provision-alerting-resources/file-provisioning): ``apiVersion: 1`` and a list under
``datasources``, ``providers``, ``groups``, ``contactPoints`` or ``policies``, with the fields Grafana's
file reader refuses to load without (a rule without uid, title, condition or data; a receiver without
uid, type or settings; a provider without a path).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from iot_suitcase.cli import main
from iot_suitcase.dashboards.cli import COMPOSE_INFLUX_URL, for_compose
from iot_suitcase.dashboards.conftest import make_registry
from iot_suitcase.dashboards.generate import FOLDER_TITLE, OVERVIEW_UID
from iot_suitcase.dashboards.provisioning import build_bundle, export_tree
from iot_suitcase.dashboards.settings import DashboardSettings, InfluxFlavour, PushSettings
from iot_suitcase.dashboards.thresholds import load_thresholds
from iot_suitcase.devices.registry import Registry, RegistryFile

REQUIRED: dict[str, dict[str, tuple[str, ...]]] = {
    "datasources": {"item": ("name", "type", "access", "uid", "orgId")},
    "providers": {"item": ("name", "type", "orgId", "folder", "options")},
    "groups": {"item": ("orgId", "name", "folder", "interval", "rules")},
    "contactPoints": {"item": ("orgId", "name", "receivers")},
    "policies": {"item": ("orgId", "receiver")},
}
RULE_FIELDS = ("uid", "title", "condition", "data", "noDataState", "execErrState", "for")
MARK_V1 = "pa55-not-in-files"  # a v1 password that must never reach a file
MARK_V2 = "tok3n-not-in-files"  # a v2 token that must never reach a file


def load(path: Path) -> dict[str, Any]:
    document = yaml.safe_load(path.read_text())
    assert document["apiVersion"] == 1, path
    lists = [key for key in REQUIRED if key in document]
    assert len(lists) == 1, f"{path}: one of {list(REQUIRED)} expected"
    for item in document[lists[0]]:
        missing = [field for field in REQUIRED[lists[0]]["item"] if field not in item]
        assert not missing, f"{path}: {missing}"
    return dict(document)


def strings(value: object) -> list[str]:
    if isinstance(value, dict):
        return [s for key, item in value.items() if key != "model" for s in strings(item)]
    if isinstance(value, list):
        return [s for item in value for s in strings(item)]
    return [value] if isinstance(value, str) else []


def export(tmp_path: Path, registry: Registry, settings: DashboardSettings) -> Path:
    export_tree(build_bundle(registry, settings), tmp_path)
    return tmp_path


def test_tree_layout_and_shapes(tmp_path: Path, registry: Registry) -> None:
    settings = DashboardSettings(alert_email="ops@city.example", alert_webhook_url="https://hooks.city.example/a")
    tree = export(tmp_path, registry, settings)
    files = sorted(path.relative_to(tree).as_posix() for path in tree.rglob("*") if path.is_file())
    assert "datasources/iot-suitcase.yaml" in files
    assert "dashboards/iot-suitcase.yaml" in files
    assert "alerting/iot-suitcase-rules.yaml" in files
    assert "alerting/iot-suitcase-contact-points.yaml" in files
    assert "alerting/iot-suitcase-policies.yaml" in files
    boards = [name for name in files if name.endswith(".json")]
    assert f"dashboards/iot-suitcase/{OVERVIEW_UID}.json" in boards
    for name in boards:
        board = json.loads((tree / name).read_text())
        assert name.endswith(f"/{board['uid']}.json")
        assert "id" not in board
    for name in files:
        if name.endswith(".yaml"):
            load(tree / name)


def test_dashboard_provider_points_at_the_json_directory(tmp_path: Path, registry: Registry) -> None:
    tree = export(tmp_path, registry, DashboardSettings(grafana_provisioning_dir="/srv/grafana/prov/"))
    provider = load(tree / "dashboards/iot-suitcase.yaml")["providers"][0]
    assert provider["type"] == "file"
    assert provider["folder"] == FOLDER_TITLE
    assert "folderUid" not in provider, "by title: the rules can name no uid, and a uid here made a second folder"
    rule_files = [load(path) for path in (tree / "alerting").glob("*.yaml")]
    folders = {group["folder"] for data in rule_files for group in data.get("groups", [])}
    assert folders == {FOLDER_TITLE}, "one folder for dashboards and rules"
    assert provider["options"]["path"] == "/srv/grafana/prov/dashboards/iot-suitcase"
    assert (tree / "dashboards/iot-suitcase").is_dir()


def test_influxdb_1x_datasource_uses_user_and_password_from_the_environment(tmp_path: Path, registry: Registry) -> None:
    settings = DashboardSettings(
        influx_username="grafana",
        influx_password=MARK_V1,
        grafana_influx_url="http://influxdb:8086",
        influx_database="city",
    )
    tree = export(tmp_path, registry, settings)
    sources = {s["uid"]: s for s in load(tree / "datasources/iot-suitcase.yaml")["datasources"]}
    influx = sources["suitcase-influxdb"]
    assert influx["type"] == "influxdb"
    assert influx["url"] == "http://influxdb:8086"
    assert influx["user"] == "grafana"
    assert influx["jsonData"] == {"dbName": "city", "httpMode": "POST", "timeInterval": "10s", "version": "InfluxQL"}
    assert influx["secureJsonData"] == {"password": "$__env{SUITCASE_INFLUX_PASSWORD}"}
    assert set(sources) == {"suitcase-influxdb"}  # the map reads the devices from InfluxDB too
    deleted = load(tree / "datasources/iot-suitcase.yaml")["deleteDatasources"]
    assert deleted == [{"name": "iot-suitcase registry (static data)", "orgId": 1}]  # an earlier release's
    assert not any(MARK_V1 in path.read_text() for path in tree.rglob("*") if path.is_file())


def test_influxdb_2x_datasource_uses_a_token_header_and_the_bucket_mapping(tmp_path: Path, registry: Registry) -> None:
    settings = DashboardSettings(influx_flavour=InfluxFlavour.V2, influx_bucket="city-bucket", influx_token=MARK_V2)
    tree = export(tmp_path, registry, settings)
    influx = load(tree / "datasources/iot-suitcase.yaml")["datasources"][0]
    assert influx["jsonData"]["dbName"] == "city-bucket"
    assert influx["jsonData"]["httpHeaderName1"] == "Authorization"
    assert influx["secureJsonData"] == {"httpHeaderValue1": "Token $__env{SUITCASE_INFLUX_TOKEN}"}
    assert "password" not in influx.get("secureJsonData", {})
    assert not any(MARK_V2 in path.read_text() for path in tree.rglob("*") if path.is_file())


def test_rule_groups_have_the_file_provisioning_shape(tmp_path: Path, registry: Registry) -> None:
    tree = export(tmp_path, registry, DashboardSettings(alert_email="ops@city.example"))
    groups = load(tree / "alerting/iot-suitcase-rules.yaml")["groups"]
    assert [group["name"] for group in groups] == ["iot-suitcase-devices", "iot-suitcase-guidance"]
    for group in groups:
        assert group["folder"] == FOLDER_TITLE
        assert re.fullmatch(r"\d+[smh]", group["interval"])
        for rule in group["rules"]:
            assert all(rule.get(field) not in (None, "", []) for field in RULE_FIELDS), rule["uid"]
            assert rule["condition"] in {query["refId"] for query in rule["data"]}
            assert all({"refId", "datasourceUid", "model"} <= set(query) for query in rule["data"])
            assert rule["notification_settings"]["receiver"] == "iot-suitcase"
    points = load(tree / "alerting/iot-suitcase-contact-points.yaml")["contactPoints"]
    assert points[0]["receivers"] == [
        {
            "uid": "suitcase-email",
            "type": "email",
            "settings": {"addresses": "ops@city.example", "singleEmail": True},
            "disableResolveMessage": False,
        }
    ]
    policy = load(tree / "alerting/iot-suitcase-policies.yaml")["policies"][0]
    assert policy["receiver"] == "iot-suitcase"


def test_no_value_that_grafana_interpolates_contains_a_stray_dollar(tmp_path: Path, registry: Registry) -> None:
    # Grafana expands $VAR and ${VAR} in provisioning YAML (titles, labels, datasource fields; annotations
    # only ${VAR}); query models are read raw. A "$" elsewhere would be silently replaced by nothing.
    settings = DashboardSettings(influx_username="u", influx_password="p", alert_email="ops@city.example")
    tree = export(tmp_path, registry, settings)
    for path in tree.rglob("*.yaml"):
        for text in strings(load(path)):
            cleaned = re.sub(r"\$__env\{SUITCASE_INFLUX_(PASSWORD|TOKEN)\}", "", text)
            cleaned = re.sub(r"\{\{[^}]*\}\}", "", cleaned)  # Go templates of annotations, not env references
            assert "$" not in cleaned, f"{path.name}: {text!r}"


def test_without_contact_settings_there_is_no_contact_point_and_reexport_removes_old_files(
    tmp_path: Path, registry: Registry
) -> None:
    export(tmp_path, registry, DashboardSettings(alert_email="ops@city.example"))
    (tmp_path / "alerting/someone-elses.yaml").write_text("apiVersion: 1\n")
    light = tmp_path / "dashboards/iot-suitcase/suitcase-kind-light.json"
    assert light.exists()
    registry.remove("c-light-1")
    export(tmp_path, registry, DashboardSettings())
    assert not (tmp_path / "alerting/iot-suitcase-contact-points.yaml").exists()
    assert not (tmp_path / "alerting/iot-suitcase-policies.yaml").exists()
    assert not light.exists()
    assert (tmp_path / "alerting/someone-elses.yaml").exists()
    rules = load(tmp_path / "alerting/iot-suitcase-rules.yaml")["groups"][0]["rules"]
    assert all("notification_settings" not in rule for rule in rules)


def test_cli_export(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    registry = tmp_path / "registry.yaml"
    RegistryFile(registry).save(make_registry())
    monkeypatch.setenv("SUITCASE_ALERT_WEBHOOK_URL", "https://hooks.city.example/x")
    out = tmp_path / "provisioning"
    assert main(["dashboards", "export", str(out), "--registry", str(registry), "--influx-flavour", "v2"]) == 0
    captured = capsys.readouterr()
    assert str(out / "datasources/iot-suitcase.yaml") in captured.out
    assert "contact point 'iot-suitcase' (webhook)" in captured.err
    influx = load(out / "datasources/iot-suitcase.yaml")["datasources"][0]
    assert influx["jsonData"]["httpHeaderName1"] == "Authorization"
    monkeypatch.delenv("SUITCASE_ALERT_WEBHOOK_URL")
    assert main(["dashboards", "export", str(out), "--registry", str(registry)]) == 0
    assert "no contact point" in capsys.readouterr().err


def test_settings_refuse_nonsense() -> None:
    with pytest.raises(ValueError, match="email"):
        DashboardSettings(alert_email="not an address")
    with pytest.raises(ValueError, match="http"):
        DashboardSettings(alert_webhook_url="ftp://x")


def test_readme_documents_every_setting_and_every_guidance_value() -> None:
    readme = (Path(__file__).parent / "README.md").read_text()
    for name in PushSettings.model_fields:
        assert f"`SUITCASE_{name.upper()}`" in readme, name
        assert f"`--{name.replace('_', '-')}`" in readme, name
    for entry in load_thresholds().guidance:
        row = next((line for line in readme.splitlines() if f"`{entry.id}`" in line), None)
        assert row is not None, entry.id
        assert f"| {entry.value:g} " in row, entry.id
        assert f"| {entry.period.value} |" in row, entry.id


def test_export_for_compose_points_grafana_at_the_stacks_influxdb_unless_told_otherwise() -> None:
    """#17 point 2: exported as the compose file's header says, the datasource pointed at 127.0.0.1:8086 (Grafana's
    own container) with no token."""
    compose = for_compose(DashboardSettings())
    assert (compose.influx_flavour, compose.datasource_url) == (InfluxFlavour.V1, COMPOSE_INFLUX_URL)
    own = for_compose(DashboardSettings(grafana_influx_url="http://tsdb.example:8086"))
    assert own.datasource_url == "http://tsdb.example:8086", "what the operator set stays"
