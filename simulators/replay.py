"""Replaying a CSV of time-stamped readings (e.g. the CityPulse Aarhus weather and parking streams) as messages.

A mapping says which column holds the time, which the device (or one fixed device id), and which columns
are which catalog quantities, in which unit, optionally divided by another column and scaled (parking:
``vehiclecount / totalspaces * 100`` is a fill level in %). It comes from flags or a small TOML file
(``simulators/mappings/``). Each row becomes one message per device with the row's own timestamp, so the
readings land at the times in the file; ``shift`` moves them all by a fixed amount (to end now).

Cells that hold no value (empty, ``NA``, Wunderground's ``-9999``) are left out of their row; a row without
any value, or with a time that cannot be read, is skipped and counted. A value outside the catalog's range
is still sent, as the file says, and counted as a reject the platform will make.
"""

from __future__ import annotations

import csv
import tomllib
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from iot_suitcase.devices.catalog import load_catalog
from iot_suitcase.devices.catalog.units import conversion
from iot_suitcase.devices.errors import DecodeError
from iot_suitcase.devices.reading import check_device_id
from iot_suitcase.simulators.formats import FORMATS, Report
from iot_suitcase.simulators.model import NATIVE, Expected, Outgoing, SimDevice, Topics
from iot_suitcase.simulators.plan import expected_readings
from iot_suitcase.simulators.signals import Context
from iot_suitcase.simulators.signals.noise import text_key

DEFAULT_MISSING = frozenset({"", "na", "n/a", "nan", "null", "none", "-", "-9999", "-999", "-9999.0", "-999.0"})
REPLAY_FORMATS = ("native", "senml")
_EXTRA_DECIMALS = 2


class ReplayError(ValueError):
    """A mapping or file that cannot be replayed; the message says what to fix."""


@dataclass(frozen=True, slots=True)
class ColumnMap:
    """One CSV column as one quantity: ``value = cell / per_column * scale + offset``, in ``unit``."""

    column: str
    quantity: str
    unit: str | None = None  # None: the catalog's canonical unit
    scale: float = 1.0
    offset: float = 0.0
    per: str | None = None


@dataclass(frozen=True, slots=True)
class ReplayMapping:
    columns: tuple[ColumnMap, ...]
    time_column: str
    time_format: str | None = None  # strptime format; None: ISO 8601 or epoch seconds/milliseconds
    timezone: str = "UTC"  # for times without an offset
    device: str | None = None  # one device id for every row
    device_column: str | None = None
    device_prefix: str = ""
    kind: str | None = None
    site: str = "replay"
    missing: frozenset[str] = DEFAULT_MISSING

    def check(self) -> None:
        catalog = load_catalog()
        if not self.columns:
            raise ReplayError("map at least one column to a quantity (--column COLUMN=QUANTITY)")
        if self.device is None and self.device_column is None:
            raise ReplayError("say whose readings they are: --device ID or --device-column COLUMN")
        for mapped in self.columns:
            if mapped.quantity not in catalog.quantities:
                raise ReplayError(f"column {mapped.column}: {mapped.quantity!r} is not a catalog quantity")
            if mapped.unit is not None:
                spec = catalog.quantities[mapped.quantity]
                if conversion(spec.dimension, mapped.unit, spec.unit) is None:
                    raise ReplayError(
                        f"column {mapped.column}: unit {mapped.unit!r} is not accepted for {mapped.quantity} "
                        f"(accepted: {', '.join(spec.accepted_units)})"
                    )
        if self.kind is not None and self.kind not in catalog.kinds:
            raise ReplayError(f"{self.kind!r} is not a catalog kind")
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ReplayError(f"unknown time zone {self.timezone!r} (e.g. UTC, Europe/Copenhagen)") from None


def parse_column_flag(text: str) -> ColumnMap:
    """``COLUMN=QUANTITY`` or ``COLUMN=QUANTITY:UNIT`` (e.g. ``wspdm=wind_speed:km/h``)."""
    column, sep, target = text.partition("=")
    if not sep or not column or not target:
        raise ReplayError(f"--column {text!r}: write COLUMN=QUANTITY or COLUMN=QUANTITY:UNIT")
    quantity, _, unit = target.partition(":")
    return ColumnMap(column.strip(), quantity.strip(), unit.strip() or None)


def load_mapping(path: Path) -> ReplayMapping:
    """A mapping TOML file (see simulators/mappings/ for examples)."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise ReplayError(f"{path}: {error}") from None
    columns = []
    for column, spec in data.get("columns", {}).items():
        if isinstance(spec, str):
            columns.append(ColumnMap(column, spec))
        elif isinstance(spec, dict):
            unknown = set(spec) - {"quantity", "unit", "scale", "offset", "per"}
            if unknown or "quantity" not in spec:
                raise ReplayError(f"{path}: columns.{column} needs quantity (and may have unit, scale, offset, per)")
            columns.append(
                ColumnMap(
                    column,
                    str(spec["quantity"]),
                    spec.get("unit"),
                    float(spec.get("scale", 1.0)),
                    float(spec.get("offset", 0.0)),
                    spec.get("per"),
                )
            )
        else:
            raise ReplayError(f"{path}: columns.{column} must be a quantity name or a table")
    known = {"columns", "time_column", "time_format", "timezone", "device", "device_column", "device_prefix"}
    unknown = set(data) - known - {"kind", "site", "missing"}
    if unknown:
        raise ReplayError(f"{path}: unknown keys {sorted(unknown)}")
    if "time_column" not in data:
        raise ReplayError(f"{path}: time_column is required")
    missing = DEFAULT_MISSING | {str(m).lower() for m in data.get("missing", [])}
    return ReplayMapping(
        columns=tuple(columns),
        time_column=str(data["time_column"]),
        time_format=data.get("time_format"),
        timezone=str(data.get("timezone", "UTC")),
        device=data.get("device"),
        device_column=data.get("device_column"),
        device_prefix=str(data.get("device_prefix", "")),
        kind=data.get("kind"),
        site=str(data.get("site", "replay")),
        missing=frozenset(missing),
    )


def with_flags(
    base: ReplayMapping | None,
    *,
    columns: Sequence[str],
    time_column: str | None,
    time_format: str | None,
    timezone: str | None,
    device: str | None,
    device_column: str | None,
    device_prefix: str | None,
    site: str | None,
) -> ReplayMapping:
    """The mapping file's settings, each overridden by the flag given for it."""
    flagged = tuple(parse_column_flag(text) for text in columns)
    if base is None:
        if time_column is None:
            raise ReplayError("give --time-column COLUMN (or a --mapping file)")
        base = ReplayMapping(columns=flagged, time_column=time_column)
    elif flagged:
        replaced = {mapped.column for mapped in flagged}
        base = replace(base, columns=tuple(c for c in base.columns if c.column not in replaced) + flagged)
    changes: dict[str, object] = {
        key: value
        for key, value in (
            ("time_column", time_column),
            ("time_format", time_format),
            ("timezone", timezone),
            ("device", device),
            ("device_column", device_column),
            ("device_prefix", device_prefix),
            ("site", site),
        )
        if value is not None
    }
    if device is not None:
        changes["device_column"] = None
    return replace(base, **changes)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class Row:
    line: int
    time_us: int
    device: str
    values: dict[str, float]  # canonical values, as the file states them converted (range not checked)


@dataclass(slots=True)
class ReadReport:
    """What reading the file left out, with a few examples for the user."""

    rows: int = 0
    skipped_rows: Counter[str] = field(default_factory=Counter)
    missing_cells: int = 0
    bad_cells: int = 0
    examples: list[str] = field(default_factory=list)

    def note(self, example: str) -> None:
        if len(self.examples) < 5:
            self.examples.append(example)


def _parse_time(text: str, mapping: ReplayMapping) -> datetime:
    if mapping.time_format is not None:
        moment = datetime.strptime(text, mapping.time_format)
    else:
        try:
            number = float(text)
        except ValueError:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        else:
            seconds = number / 1000.0 if number >= 1e11 else number
            return datetime.fromtimestamp(seconds, UTC)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(mapping.timezone))
    return moment.astimezone(UTC)


def _device_id(raw: str, mapping: ReplayMapping) -> str:
    cleaned = "".join(char if char.isascii() and (char.isalnum() or char in "._:-") else "-" for char in raw.strip())
    return check_device_id(f"{mapping.device_prefix}{cleaned}")


def read_rows(path: Path, mapping: ReplayMapping) -> tuple[list[Row], ReadReport]:
    """Every usable row, sorted by time (stable), and what was left out."""
    mapping.check()
    report = ReadReport()
    rows: list[Row] = []
    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except OSError as error:
        raise ReplayError(f"cannot read {path}: {error}") from None
    with handle:
        reader = csv.DictReader(handle)
        header = set(reader.fieldnames or ())
        needed = {mapping.time_column} | {c.column for c in mapping.columns} | {c.per for c in mapping.columns if c.per}
        if mapping.device_column is not None:
            needed.add(mapping.device_column)
        absent = sorted(needed - header)
        if absent:
            raise ReplayError(
                f"{path}: no column {', '.join(absent)}; the header has {', '.join(reader.fieldnames or [])}"
            )
        for line, cells in enumerate(reader, start=2):
            report.rows += 1
            try:
                moment = _parse_time((cells[mapping.time_column] or "").strip(), mapping)
            except (ValueError, OverflowError, OSError):
                report.skipped_rows["unreadable time"] += 1
                report.note(f"line {line}: time {cells[mapping.time_column]!r} is unreadable")
                continue
            try:
                device = mapping.device or _device_id(cells[str(mapping.device_column)] or "", mapping)
            except DecodeError as error:
                report.skipped_rows["invalid device id"] += 1
                report.note(f"line {line}: {error.reason}")
                continue
            values = _row_values(cells, mapping, report, line)
            if not values:
                report.skipped_rows["no values"] += 1
                continue
            time_us = round(moment.timestamp() * 1_000_000)
            rows.append(Row(line, time_us, device, values))
    rows.sort(key=lambda row: row.time_us)
    return rows, report


def _row_values(cells: dict[str, str], mapping: ReplayMapping, report: ReadReport, line: int) -> dict[str, float]:
    catalog = load_catalog()
    values: dict[str, float] = {}
    for mapped in mapping.columns:
        raw = (cells.get(mapped.column) or "").strip()
        divisor_text = (cells.get(mapped.per) or "").strip() if mapped.per else "1"
        if raw.lower() in mapping.missing or divisor_text.lower() in mapping.missing:
            report.missing_cells += 1
            continue
        try:
            number = float(raw.replace(",", ".")) / float(divisor_text.replace(",", ".")) * mapped.scale + mapped.offset
        except (ValueError, ZeroDivisionError):
            report.bad_cells += 1
            report.note(f"line {line}: {mapped.column}={raw!r} is not a number")
            continue
        spec = catalog.quantity(mapped.quantity)
        if mapped.unit is not None and mapped.unit != spec.unit:
            convert = conversion(spec.dimension, mapped.unit, spec.unit)
            assert convert is not None  # checked by ReplayMapping.check
            number = convert.apply(number)
        values[mapped.quantity] = round(number, spec.decimals + _EXTRA_DECIMALS) + 0.0
    return values


def replay_devices(rows: Sequence[Row], mapping: ReplayMapping, fmt: str) -> dict[str, SimDevice]:
    """One native device per device id in the rows."""
    if fmt not in REPLAY_FORMATS:
        raise ReplayError(f"replays carry timestamps: use --format {' or '.join(REPLAY_FORMATS)}")
    catalog = load_catalog()
    quantities = tuple(dict.fromkeys(c.quantity for c in mapping.columns))
    kind = mapping.kind or next(
        (name for name, spec in catalog.kinds.items() if quantities[0] in spec.quantities), "climate"
    )
    devices = {}
    for index, device_id in enumerate(dict.fromkeys(row.device for row in rows)):
        devices[device_id] = SimDevice(
            id=device_id,
            index=index,
            model=NATIVE,
            kind=kind,
            site=mapping.site,
            format=fmt,
            quantities=quantities,
            interval_s=600.0,
            lat=56.1567,
            lon=10.2108,
            context=Context(seed=text_key(device_id), site_seed=text_key(mapping.site)),
            name=f"Replay of {device_id}",
        )
    return devices


def replay_messages(
    rows: Sequence[Row], devices: dict[str, SimDevice], topics: Topics, *, shift_us: int = 0
) -> Iterator[Outgoing]:
    """One message per row, at the row's own time (plus ``shift_us``); a (device, quantity, time) seen before
    overwrites the same point, so it is not counted as a new reading."""
    seen: set[tuple[str, str, int]] = set()
    for counter, row in enumerate(rows, start=1):
        device = devices[row.device]
        fmt = FORMATS[device.format]
        stamp_us = row.time_us + shift_us
        report = Report(device, stamp_us // 1000, stamp_us, row.values, counter)
        for order, draft in enumerate(fmt.drafts(report, topics)):
            reject = None
            readings: tuple[Expected, ...] = ()
            try:
                readings = expected_readings(draft, stamp_us * 1000)
            except DecodeError as error:
                reject = str(error.code)
            new = tuple(r for r in readings if (row.device, r.quantity, stamp_us) not in seen)
            seen.update((row.device, r.quantity, stamp_us) for r in readings)
            yield Outgoing(
                stamp_us // 1000,
                device,
                draft.topic,
                draft.payload(),
                readings=new,
                reject=reject,
                repeat=bool(readings) and not new,
                order=order,
            )
