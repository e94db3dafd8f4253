"""Devices from and to CSV: the format a spreadsheet of a starter kit's sensors is already in.

An import is all or nothing: a file with any bad row registers nothing, and the error names every bad
row by line and column, so an operator fixes the file in one pass instead of re-running per mistake.
"""

from __future__ import annotations

import csv
import difflib
import io
import sys
from collections.abc import Collection, Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TextIO

from pydantic import ValidationError
from tqdm import tqdm

from iot_suitcase.devices.registry.model import Device, DeviceSpec, Problem, RegistryError, describe
from iot_suitcase.devices.registry.store import Registry

COLUMNS: tuple[str, ...] = (
    "id",
    "model",
    "kind",
    "site",
    "name",
    "lat",
    "lon",
    "dev_eui",
    "interval_s",
    "tags",
    "gateway",
)
REQUIRED_COLUMNS: tuple[str, ...] = ("id", "model", "site")
# The bar shows only on a terminal, and only for files big enough to take a visible moment: on a pipe or
# in a log, tqdm's redraws are clutter, and a small file is done before a bar can be read.
PROGRESS_MIN_ROWS = 200


def parse_tags(text: str) -> dict[str, str]:
    """``key=value;key=value`` (spaces around either and a trailing ``;`` allowed) as a dict."""
    tags: dict[str, str] = {}
    for part in text.split(";"):
        if not part.strip():
            continue
        key, equals, value = part.partition("=")
        if not equals:
            raise ValueError(f"{part.strip()!r} is not key=value (tags are key=value;key=value)")
        if key.strip() in tags:
            raise ValueError(f"tag {key.strip()!r} is given twice")
        tags[key.strip()] = value.strip()
    return tags


def format_tags(tags: dict[str, str]) -> str:
    """The inverse of ``parse_tags`` (tag values cannot contain ';', so this is lossless)."""
    return ";".join(f"{key}={value}" for key, value in tags.items())


def read_csv(
    text: str, *, models: Collection[str] | None = None, progress: bool | None = None
) -> tuple[list[DeviceSpec], list[int], list[Problem]]:
    """The specs of a CSV file's rows with the line each starts on, and every problem of every row.

    ``models``: the known ``vendor/model`` ids (an unknown one is reported with the row's other problems).

    ``progress``: a progress bar on stderr; by default when stderr is a terminal and the file has more
    than ``PROGRESS_MIN_ROWS`` rows.

    The delimiter is ',' or, as a spreadsheet with a Danish locale writes it, ';' with decimal commas.
    """
    first_line = text.lstrip("\ufeff").split("\n", 1)[0]
    delimiter = ";" if ";" in first_line and "," not in first_line else ","
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff"), newline=""), delimiter=delimiter, strict=True)
    records: list[tuple[int, list[str]]] = []
    try:
        while True:
            start = reader.line_num + 1
            try:
                records.append((start, next(reader)))
            except StopIteration:
                break
    except csv.Error as error:
        return [], [], [Problem(f"not readable as CSV: {error}", line=reader.line_num)]
    if not records:
        return [], [], [Problem("the file is empty: the first line must name the columns, e.g. id,model,site")]
    header, problems = _header(records[0][1])
    if problems:
        return [], [], problems
    if progress is None:
        progress = sys.stderr.isatty() and len(records) > PROGRESS_MIN_ROWS + 1
    specs, lines = [], []
    rows = tqdm(records[1:], desc="checking", unit=" rows", file=sys.stderr, disable=not progress, leave=False)
    for line, row in rows:
        if not any(cell.strip() for cell in row):
            continue
        spec, found = _row(header, row, line, models=models, decimal_comma=delimiter == ";")
        problems += found
        if spec is not None:
            specs.append(spec)
            lines.append(line)
    return specs, lines, problems


def _header(cells: list[str]) -> tuple[list[str], list[Problem]]:
    header = [cell.strip().lower() for cell in cells]
    if not set(header) & set(COLUMNS):
        got = ",".join(cells)[:60]
        return header, [Problem(f"the first line must name the columns, e.g. id,model,site (got {got!r})", line=1)]
    problems = []
    for name in dict.fromkeys(header):
        if name not in COLUMNS:
            close = difflib.get_close_matches(name, COLUMNS, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            problems.append(Problem(f"unknown column {name!r}{hint}; columns: {','.join(COLUMNS)}", line=1))
        elif header.count(name) > 1:
            problems.append(Problem(f"column {name!r} is given twice", line=1))
    problems += [
        Problem(f"the required column {name!r} is missing", line=1) for name in REQUIRED_COLUMNS if name not in header
    ]
    return header, problems


def _row(
    header: Sequence[str], row: Sequence[str], line: int, *, models: Collection[str] | None, decimal_comma: bool
) -> tuple[DeviceSpec | None, list[Problem]]:
    if len(row) > len(header):
        message = f"{len(row)} values but the header names {len(header)} columns (a comma in a name? quote it)"
        return None, [Problem(message, line=line)]
    cells = {name: value.strip() for name, value in zip(header, row, strict=False) if value.strip()}
    problems = []
    data: dict[str, object] = {
        name: cells[name]
        for name in ("id", "model", "kind", "site", "name", "dev_eui", "interval_s", "gateway")
        if name in cells
    }
    if "lat" in cells or "lon" in cells:
        if "lat" in cells and "lon" in cells:
            lat, lon = (cells[name].replace(",", ".") if decimal_comma else cells[name] for name in ("lat", "lon"))
            data["location"] = {"lat": lat, "lon": lon}
        else:
            given, missing = ("lat", "lon") if "lat" in cells else ("lon", "lat")
            problems.append(Problem(f"give {missing} too, or neither", field=given, line=line))
    if "tags" in cells:
        try:
            data["tags"] = parse_tags(cells["tags"])
        except ValueError as error:
            problems.append(Problem(str(error), field="tags", line=line))
    try:
        spec = DeviceSpec.model_validate(data, context={"models": models})
    except ValidationError as error:
        for problem in describe(error, line=line):
            # A location is two columns in CSV: name the column.
            column = (problem.field or "").removeprefix("location.").replace("location", "lat")
            problems.append(Problem(problem.message, field=column, line=line))
        return None, problems
    return (None if problems else spec), problems


def import_csv(
    registry: Registry,
    source: Path | TextIO,
    *,
    progress: bool | None = None,
    now: datetime | None = None,
    update: bool = False,
) -> list[Device]:
    """Register every device of a CSV file, or none: the ``RegistryError`` lists every bad row.

    ``update``: a row whose id is registered replaces that device (a sheet edited and imported again); the
    caller's ``RegistryFile.edit()`` saves nothing if any row is refused. ``progress`` as in ``read_csv``.
    """
    if isinstance(source, Path):
        name = str(source)
        try:
            with source.open(encoding="utf-8-sig", newline="") as file:
                text = file.read()
        except UnicodeDecodeError as error:
            message = f"{name} is not UTF-8 text (byte {error.start}): save it as CSV UTF-8"
            raise RegistryError(Problem(message)) from None
    else:
        name, text = getattr(source, "name", "<stdin>"), source.read()
    specs, lines, problems = read_csv(text, models=registry.models, progress=progress)
    if update and not problems:
        for spec in specs:
            if registry.get(spec.id) is not None:
                registry.remove(spec.id)
    if problems:
        problems += registry.check_all(specs, lines=lines, now=now)
    else:
        try:
            return registry.add_all(specs, lines=lines, now=now)
        except RegistryError as error:
            problems = error.problems
    count = len(problems)
    problems.sort(key=lambda problem: problem.line or 0)
    raise RegistryError(problems, summary=f"{name}: nothing imported; {count} problem{'s' if count > 1 else ''}:")


def export_csv(devices: Iterable[Device], out: TextIO) -> None:
    """Devices as CSV that ``import_csv`` reads back to the same devices (``created`` is set anew)."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for device in devices:
        location = device.location
        writer.writerow(
            (
                device.id,
                device.model,
                device.kind or "",
                device.site,
                device.name,
                "" if location is None else repr(location.lat),
                "" if location is None else repr(location.lon),
                device.dev_eui or "",
                device.interval_s,
                format_tags(device.tags),
                device.gateway or "",
            )
        )
