"""What the registry knows about a device, and the rules each field follows.

Two shapes: ``DeviceSpec`` is what an operator gives (``add``, a CSV row), with most fields optional;
``Device`` is what the registry stores, every default resolved, so the registry file says everything
explicitly and a codec later changing its model's defaults never silently changes a registered device.
Whether a ``vendor/model`` id has a codec depends on the registry's model table (devices/registry/store.py),
which keeps growing: it is checked when a device is added, or at once if validation is given the table.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    model_validator,
)

from iot_suitcase.devices.catalog import load_catalog
from iot_suitcase.devices.errors import DecodeError
from iot_suitcase.devices.reading import UtcDatetime, check_device_id

NATIVE = "native"
DEFAULT_INTERVAL_S = 900
MAX_INTERVAL_S = 30 * 24 * 3600  # a month: anything longer is almost surely milliseconds typed as seconds
MAX_TAGS = 10
MAX_NAME_CHARS = 100
MAX_TAG_VALUE_CHARS = 200

_SLUG = re.compile(r"[a-z0-9_-]{1,64}")
_MODEL_ID = re.compile(r"[a-z0-9][a-z0-9._-]*/[a-z0-9][a-z0-9._-]*")
_HEX16 = re.compile(r"[0-9a-f]{16}")
_EUI_SEPARATORS = re.compile(r"[\s:-]")
# C0 and C1 controls and the Unicode line/paragraph separators: they break table output, CSV cells and
# InfluxDB tags, and are never meant in a name.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def _device_id(value: str) -> str:
    try:
        return check_device_id(value)
    except DecodeError as error:
        raise ValueError(error.reason) from None


def _model_id(value: str, info: ValidationInfo) -> str:
    # Model ids are lower-case by convention (The Things Network device repository): "Elsys/ERS" is meant
    # as "elsys/ers", so fold case rather than reject.
    folded = value.lower()
    if folded != NATIVE and not _MODEL_ID.fullmatch(folded):
        raise ValueError(f"{value!r} is not a model: use 'native' or a vendor/model id such as 'elsys/ers'")
    # Given the registry's models (validation context), say at once that a model is unknown, together with
    # the row's other mistakes; without them the registry checks it when the device is added.
    known = (info.context or {}).get("models")
    if known is not None and folded != NATIVE and folded not in known:
        raise ValueError(unknown_model_message(folded, known))
    return folded


def unknown_model_message(model: str, known: Collection[str]) -> str:
    """Why ``model`` is refused, with the model ids it was probably meant to be."""
    vendor = model.split("/", 1)[0]
    close = difflib.get_close_matches(model, list(known), n=4, cutoff=0.6)
    hints = close or sorted(other for other in known if other.startswith(f"{vendor}/"))[:6]
    text = f"unknown model {model!r}"
    if hints:
        text += f"; close matches: {', '.join(hints)}"
    elif not known:
        text += "; no codec is installed yet"
    return text + f"; `suitcase codec list` shows every model, or use {NATIVE!r}"


def _kind(value: str) -> str:
    kinds = load_catalog().kinds
    if value not in kinds:
        raise ValueError(f"{value!r} is not a catalog kind; kinds: {', '.join(sorted(kinds))}")
    return value


def _slug(what: str) -> Callable[[str], str]:
    def check(value: str) -> str:
        if not _SLUG.fullmatch(value):
            raise ValueError(f"{what} {value!r} is not valid: use 1-64 of a-z 0-9 - _ (lower-case)")
        return value

    return check


def _text(what: str, max_chars: int, *, forbid: str = "") -> Callable[[str], str]:
    def check(value: str) -> str:
        if not value:
            raise ValueError(f"{what} must not be empty")
        if len(value) > max_chars:
            raise ValueError(f"{what} is {len(value)} characters long, over the limit of {max_chars}")
        if _CONTROL.search(value):
            raise ValueError(f"{what} {value[:40]!r} contains a control character (a tab, a newline, ...)")
        for char in forbid:
            if char in value:
                raise ValueError(f"{what} {value[:40]!r} contains {char!r}, which separates tags in CSV")
        return value

    return check


def fold_dev_eui(text: str) -> str:
    """A DevEUI as stored: lower-case, without the spaces, ':' or '-' that labels print between bytes."""
    return _EUI_SEPARATORS.sub("", text).lower()


def _dev_eui(value: str) -> str:
    folded = fold_dev_eui(value)
    if not _HEX16.fullmatch(folded):
        raise ValueError(f"{value[:40]!r} is not 16 hex digits")
    return folded


def _not_bool(value: object) -> object:
    # pydantic reads True as 1; a YAML `interval_s: yes` is a mistake, not one second.
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a number")
    return value


def _interval(value: int) -> int:
    if not 0 < value <= MAX_INTERVAL_S:
        raise ValueError(f"{value} is not a reporting interval: give seconds, from 1 to {MAX_INTERVAL_S} (30 days)")
    return value


def _tag_count(tags: dict[str, str]) -> dict[str, str]:
    if len(tags) > MAX_TAGS:
        raise ValueError(f"{len(tags)} tags, over the limit of {MAX_TAGS}")
    return tags


def _between(low: float, high: float) -> Callable[[float], float]:
    def check(value: float) -> float:
        if not low <= value <= high:
            raise ValueError(f"{value:g} is outside [{low:g}, {high:g}]")
        return value

    return check


DeviceIdField = Annotated[str, AfterValidator(_device_id)]
ModelId = Annotated[str, AfterValidator(_model_id)]
KindName = Annotated[str, AfterValidator(_kind)]
Site = Annotated[str, AfterValidator(_slug("site"))]
Name = Annotated[str, AfterValidator(_text("name", MAX_NAME_CHARS))]
TagKey = Annotated[str, AfterValidator(_slug("tag key"))]
TagValue = Annotated[str, AfterValidator(_text("tag value", MAX_TAG_VALUE_CHARS, forbid=";"))]
Tags = Annotated[dict[TagKey, TagValue], AfterValidator(_tag_count)]
DevEui = Annotated[str, AfterValidator(_dev_eui)]
IntervalS = Annotated[int, BeforeValidator(_not_bool), AfterValidator(_interval)]
Latitude = Annotated[float, BeforeValidator(_not_bool), AfterValidator(_between(-90, 90))]
Longitude = Annotated[float, BeforeValidator(_not_bool), AfterValidator(_between(-180, 180))]


class Location(BaseModel):
    """Where a device is mounted (WGS 84), for maps and for finding it again."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True, allow_inf_nan=False)

    lat: Latitude
    lon: Longitude


class DeviceSpec(BaseModel):
    """A device as an operator describes it; ``Registry.add`` fills in the defaults."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True, allow_inf_nan=False)

    id: DeviceIdField
    model: ModelId
    site: Site
    kind: KindName | None = None
    name: Name | None = None
    location: Location | None = None
    dev_eui: DevEui | None = None
    interval_s: IntervalS | None = None
    tags: Tags = Field(default_factory=dict)
    gateway: DeviceIdField | None = None

    @model_validator(mode="after")
    def _not_its_own_gateway(self) -> DeviceSpec:
        if self.gateway == self.id:
            raise ValueError("a device cannot be its own gateway")
        return self


class Device(BaseModel):
    """A registered device, every field explicit (the field order is the registry file's)."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True, allow_inf_nan=False)

    id: DeviceIdField
    name: Name
    model: ModelId
    kind: KindName | None = Field(default=None, description="None: a native device whose kind nobody gave")
    site: Site
    location: Location | None = None
    dev_eui: DevEui | None = None
    interval_s: IntervalS
    tags: Tags = Field(default_factory=dict)
    gateway: DeviceIdField | None = Field(
        default=None, description="The device whose account publishes this one's readings (a SenML gateway)"
    )
    created: UtcDatetime

    def as_record(self) -> dict[str, Any]:
        """The device as plain data without its unset optional fields: one entry of the registry file."""
        return {key: value for key, value in self.model_dump(mode="json").items() if value not in (None, {})}


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with one entry, said so that an operator can fix it without reading code."""

    message: str
    field: str | None = None
    line: int | None = None
    device: str | None = None

    def __str__(self) -> str:
        where = []
        if self.line is not None:
            where.append(f"line {self.line}")
        if self.device is not None:
            where.append(f"device {self.device!r}" if self.line is None else f"({self.device})")
        prefix = " ".join(where)
        label = ", ".join(part for part in (prefix, self.field) if part)
        return f"{label}: {self.message}" if label else self.message


class RegistryError(ValueError):
    """Something the registry refuses, with every problem found (never just the first)."""

    def __init__(self, problems: list[Problem] | Problem, *, summary: str | None = None) -> None:
        self.problems = [problems] if isinstance(problems, Problem) else list(problems)
        self.summary = summary
        super().__init__(str(self))

    def __str__(self) -> str:
        lines = [str(problem) for problem in self.problems]
        summary = self.summary or (f"{len(lines)} problems:" if len(lines) > 1 else None)
        if summary is None:
            return "\n".join(lines)
        return "\n".join([summary, *(f"  {line}" for line in lines)])


def describe(error: ValidationError, *, line: int | None = None, device: str | None = None) -> list[Problem]:
    """pydantic's errors as ``Problem``s named by field (``location.lat``, ``tags``), in plain words."""
    problems = []
    for detail in error.errors(include_url=False):
        loc = detail["loc"]
        field = "tags" if "[key]" in loc else ".".join(str(part) for part in loc) or None
        problems.append(Problem(_plain(detail), field=field, line=line, device=device))
    return problems


_EXPECTED = {"string_type": "text", "dict_type": "a mapping", "model_type": "a mapping", "finite_number": "finite"}


def _plain(detail: Mapping[str, Any]) -> str:
    kind: str = detail["type"]
    given = detail.get("input")
    if kind == "value_error":
        return str(detail["ctx"]["error"])
    if kind in {"missing", "extra_forbidden"}:
        return "required" if kind == "missing" else "unknown field (a typo?)"
    if kind.startswith(("int_", "float_")):
        return f"{given!r} is not {'a whole number' if kind.startswith('int_') else 'a number'}"
    if kind in _EXPECTED:
        # YAML reads `site: no` as false and `dev_eui: 1234567890123456` as a number.
        hint = " (in YAML, quote it)" if kind == "string_type" and isinstance(given, int | float | bool) else ""
        return f"{given!r} is not {_EXPECTED[kind]}{hint}"
    return f"{detail['msg']} (given {given!r})"


def make_spec(data: Mapping[str, object], *, models: Collection[str] | None = None) -> DeviceSpec:
    """A ``DeviceSpec`` from plain values, or a ``RegistryError`` naming every bad field.

    ``models``: the known ``vendor/model`` ids, to report an unknown model with the other problems.
    """
    try:
        return DeviceSpec.model_validate(data, context={"models": models})
    except ValidationError as error:
        raise RegistryError(describe(error)) from None


def device_problems(data: object, *, line: int | None = None) -> tuple[Device | None, list[Problem]]:
    """Validate one registry-file entry; its id, when readable, names it in the problems."""
    if not isinstance(data, dict):
        return None, [Problem(f"an entry must be a mapping of fields, not {data!r}", line=line)]
    device_id = data.get("id")
    try:
        return Device.model_validate(data), []
    except ValidationError as error:
        return None, describe(error, line=line, device=device_id if isinstance(device_id, str) else None)
