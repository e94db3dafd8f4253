"""The open-data file (``SUITCASE_OPENDATA_FILE``, default ``var/opendata.toml``; a tenant's in its folder):

```toml
licence = "CC-BY-4.0"
attribution = "Aarhus Kommune"
publish = [{ site = "harbour" }, { device = "kit-1" }, { quantity = "noise_level" }]
```

Written atomically by `suitcase opendata`; absent: nothing is published.
"""

from __future__ import annotations

import tomllib
from collections.abc import Collection
from dataclasses import replace
from pathlib import Path

from iot_suitcase.devices.credentials.mosquitto import write_atomically
from iot_suitcase.devices.opendata.model import LICENCES, Choice, OpenDataRules, Scope


class OpenDataError(ValueError):
    """An open-data file or a change to it that cannot be used, saying why."""


_NUMBERS = ("count_bucket_s", "indoor_bucket_s", "indoor_delay_s")


def load_rules(path: Path) -> OpenDataRules:
    if not path.exists():
        return OpenDataRules()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        choices = []
        for entry in data.get("publish", []):
            [(scope, value)] = dict(entry).items()
            choices.append(Choice(Scope(scope), str(value)))
        licence = str(data.get("licence", "CC-BY-4.0"))
        if licence not in LICENCES:
            raise OpenDataError(f"{path}: licence {licence!r} is not one of {', '.join(LICENCES)}")
        numbers = {name: int(data[name]) for name in _NUMBERS if name in data}
        if any(value < 0 for value in numbers.values()):
            raise OpenDataError(f"{path}: bucket and delay seconds cannot be negative")
        return OpenDataRules(
            licence=licence,
            attribution=str(data.get("attribution", "")),
            title=str(data.get("title", "")),
            choices=tuple(dict.fromkeys(choices)),
            indoor_round_deg=float(data.get("indoor_round_deg", 0.01)),
            **numbers,
        )
    except OpenDataError:
        raise
    except (OSError, tomllib.TOMLDecodeError, ValueError, TypeError, AttributeError) as error:
        raise OpenDataError(f"{path}: {error}") from None


def _toml_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def save_rules(path: Path, rules: OpenDataRules) -> None:
    lines = [
        "# What this installation publishes as open data (`suitcase opendata`); nothing that is not listed.",
        f"licence = {_toml_string(rules.licence)}",
        f"attribution = {_toml_string(rules.attribution)}",
    ]
    if rules.title:
        lines.append(f"title = {_toml_string(rules.title)}")
    defaults = OpenDataRules()
    changed = [name for name in _NUMBERS if getattr(rules, name) != getattr(defaults, name)]
    lines += [f"{name} = {getattr(rules, name)}" for name in changed]
    if rules.indoor_round_deg != defaults.indoor_round_deg:
        lines.append(f"indoor_round_deg = {rules.indoor_round_deg}")
    entries = ", ".join(f"{{ {c.scope.value} = {_toml_string(c.value)} }}" for c in rules.choices)
    lines.append(f"publish = [{entries}]")
    write_atomically(path, "\n".join(lines) + "\n", mode=0o644)


def change_choice(path: Path, choice: Choice, *, publish: bool, quantities: Collection[str]) -> OpenDataRules:
    """Publish or withdraw one choice in the file (the command line and the console alike); the rules now."""
    rules = load_rules(path)
    if choice.scope is Scope.QUANTITY and choice.value not in quantities:
        raise OpenDataError(f"{choice.value[:60]!r} is not a catalog quantity")
    if not choice.value.strip() or len(choice.value) > 200 or "\n" in choice.value:
        raise OpenDataError("a site, device or quantity is a name of one line")
    if publish and choice not in rules.choices:
        rules = replace(rules, choices=(*rules.choices, choice))
    elif not publish:
        if choice not in rules.choices:
            raise OpenDataError(f"{choice.scope.value} {choice.value[:60]!r} is not published")
        rules = replace(rules, choices=tuple(c for c in rules.choices if c != choice))
    save_rules(path, rules)
    return rules


def change_licence(path: Path, licence: str, attribution: str) -> OpenDataRules:
    if licence not in LICENCES:
        raise OpenDataError(f"licence {licence[:40]!r} is not one of {', '.join(LICENCES)}")
    rules = replace(load_rules(path), licence=licence, attribution=attribution.strip()[:200])
    save_rules(path, rules)
    return rules
