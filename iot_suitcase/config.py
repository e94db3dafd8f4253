"""`suitcase config`: every setting of the one settings tree with its effective value, or the README's table.

The tree is the union of the settings classes of every command (each made of groups in devices/settings.py
plus its package's own fields); a field is declared once, so each name has one default and one meaning.
"""

from __future__ import annotations

import argparse
import inspect
import json
from typing import Any

from pydantic import SecretStr, create_model
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from iot_suitcase.dashboards.settings import PushSettings
from iot_suitcase.devices import settings as tree
from iot_suitcase.devices.credentials.settings import SecuritySettings
from iot_suitcase.devices.settings import SuitcaseSettings, env_name
from iot_suitcase.ingest.config import IngestSettings
from iot_suitcase.ingest.opendata.server import OpenDataServerSettings
from iot_suitcase.simulators.cli import SimulateSettings

COMMAND_SETTINGS: tuple[type[SuitcaseSettings], ...] = (
    IngestSettings,
    OpenDataServerSettings,
    SecuritySettings,
    PushSettings,
    SimulateSettings,
)


def groups() -> list[type[SuitcaseSettings]]:
    """Every class that declares settings, base groups first (the order of the README's table)."""
    shared = [cls for cls in vars(tree).values() if isinstance(cls, type) and issubclass(cls, SuitcaseSettings)]
    found = [cls for cls in shared if declared(cls)]
    for command in COMMAND_SETTINGS:
        for cls in reversed(command.__mro__):
            if issubclass(cls, SuitcaseSettings) and cls not in found and declared(cls):
                found.append(cls)
    return found


def declared(cls: type) -> list[str]:
    """The settings a class's own body declares (not those it inherits)."""
    return [name for name in inspect.get_annotations(cls) if not name.startswith("_")]


def ordered_fields() -> list[tuple[str, FieldInfo]]:
    """Every setting once, with its declaration, grouped by the class that declares it."""
    return [(name, group.model_fields[name]) for group in groups() for name in declared(group)]


def _all_settings() -> type[SuitcaseSettings]:
    fields: dict[str, Any] = {name: (info.annotation, info) for name, info in ordered_fields()}
    model: type[SuitcaseSettings] = create_model("AllSettings", __base__=SuitcaseSettings, **fields)
    return model


def _default(info: FieldInfo) -> str:
    value = info.default
    if value is PydanticUndefined or value is None:
        return "—"
    if hasattr(value, "value"):  # an enum
        value = value.value
    return f"`{value}`"


def markdown_table() -> str:
    lines = ["| variable | flag | default | meaning |", "| --- | --- | --- | --- |"]
    for name, info in ordered_fields():
        meaning = (info.description or "").replace("|", "\\|")
        lines.append(f"| `{env_name(name)}` | `--{name.replace('_', '-')}` | {_default(info)} | {meaning} |")
    return "\n".join(lines)


def effective() -> dict[str, Any]:
    """The values this environment gives every setting; secrets only as whether they are set."""
    settings = _all_settings()()
    values: dict[str, Any] = {}
    for name, _info in ordered_fields():
        value = getattr(settings, name)
        if isinstance(value, SecretStr):
            value = "(set)"
        elif value is not None and not isinstance(value, int | float | bool | str):
            value = str(value)
        values[env_name(name)] = value
    return values


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "config",
        help="show every setting with the value this environment gives it",
        description="Every SUITCASE_* setting as each command reads it (flags aside): environment, then .env in "
        "the working directory, then the default. Secrets show only as (set).",
    )
    parser.add_argument("--json", action="store_true", help="one JSON object")
    parser.add_argument("--markdown", action="store_true", help="the README's configuration table")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.markdown:
        print(markdown_table())
        return 0
    values = effective()
    if args.json:
        print(json.dumps(values, indent=2))
        return 0
    width = max(map(len, values))
    for name, value in values.items():
        print(f"{name.ljust(width)}  {'-' if value is None else value}")
    return 0
