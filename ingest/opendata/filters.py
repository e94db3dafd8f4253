"""``$filter`` of the SensorThings API (OData's expression syntax), the part this server implements:
comparisons (``eq ne gt ge lt le``) of a property path with a literal (a 'string', a number, true, false,
null, or an ISO 8601 time), ``st_within(property, geography'POLYGON((...))')`` and ``geo.distance(property,
geography'POINT(x y)') op number`` on a GeoJSON point property (a Location's ``location``, a feature's
``feature``), joined by ``and``, ``or``, ``not`` and parentheses. Other functions (``substringof``,
``geo.intersects``, ...) and arithmetic are answered with 501 Not Implemented, as the standard asks of what a
server does not support."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from iot_suitcase.devices.errors import DecodeError
from iot_suitcase.devices.timestamps import parse_timestamp

OPERATORS = ("eq", "ne", "gt", "ge", "lt", "le")
_TOKEN = re.compile(
    r"\s*(?:(?P<string>'(?:[^']|'')*')|(?P<time>\d{4}-\d{2}-\d{2}T[0-9:.]+(?:Z|[+-]\d{2}:\d{2}))"
    r"|(?P<number>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)|(?P<punct>[(),])|(?P<word>[A-Za-z_@][A-Za-z0-9_/.@]*))"
)
MAX_LENGTH = 2000


class FilterError(ValueError):
    """A $filter that cannot be read (400); ``not_implemented``: one this server does not support (501)."""

    def __init__(self, message: str, *, not_implemented: bool = False) -> None:
        super().__init__(message)
        self.not_implemented = not_implemented


@dataclass(frozen=True, slots=True)
class Comparison:
    path: str
    operator: str
    value: Any  # str, float, bool, None or datetime


@dataclass(frozen=True, slots=True)
class Logical:
    operator: str  # "and", "or", "not"
    operands: tuple[Expression, ...]


@dataclass(frozen=True, slots=True)
class Within:
    """``st_within(path, geography'POLYGON((x y, ...))')``: a point property inside a polygon's outer ring."""

    path: str
    ring: tuple[tuple[float, float], ...]


@dataclass(frozen=True, slots=True)
class Distance:
    """``geo.distance(path, geography'POINT(x y)') op number``: in degrees, as the coordinates are (WGS 84)."""

    path: str
    point: tuple[float, float]
    operator: str
    value: float


Expression = Comparison | Logical | Within | Distance
_WKT_NUMBERS = re.compile(r"(-?\d+(?:\.\d+)?)\s+(-?\d+(?:\.\d+)?)")


def parse(text: str) -> Expression:
    if len(text) > MAX_LENGTH:
        raise FilterError(f"$filter is longer than {MAX_LENGTH} characters")
    tokens = _tokens(text)
    expression, rest = _or(tokens)
    if rest:
        raise FilterError(f"$filter: unexpected {rest[0][1]!r}")
    return expression


def _tokens(text: str) -> list[tuple[str, str]]:
    tokens, position = [], 0
    while position < len(text.rstrip()):
        found = _TOKEN.match(text, position)
        if found is None or found.end() == position:
            raise FilterError(f"$filter: cannot read {text[position : position + 20]!r}")
        kind = found.lastgroup or ""
        tokens.append((kind, found.group(kind)))
        position = found.end()
    return tokens


def _or(tokens: list[tuple[str, str]]) -> tuple[Expression, list[tuple[str, str]]]:
    left, tokens = _and(tokens)
    while tokens and tokens[0] == ("word", "or"):
        right, tokens = _and(tokens[1:])
        left = Logical("or", (left, right))
    return left, tokens


def _and(tokens: list[tuple[str, str]]) -> tuple[Expression, list[tuple[str, str]]]:
    left, tokens = _unary(tokens)
    while tokens and tokens[0] == ("word", "and"):
        right, tokens = _unary(tokens[1:])
        left = Logical("and", (left, right))
    return left, tokens


def _unary(tokens: list[tuple[str, str]]) -> tuple[Expression, list[tuple[str, str]]]:
    if not tokens:
        raise FilterError("$filter ends too early")
    if tokens[0] == ("word", "not"):
        operand, rest = _unary(tokens[1:])
        return Logical("not", (operand,)), rest
    if tokens[0] == ("punct", "("):
        inner, rest = _or(tokens[1:])
        if not rest or rest[0] != ("punct", ")"):
            raise FilterError("$filter: a '(' is not closed")
        return inner, rest[1:]
    return _comparison(tokens)


def _comparison(tokens: list[tuple[str, str]]) -> tuple[Expression, list[tuple[str, str]]]:
    kind, path = tokens[0]
    if kind != "word":
        raise FilterError(f"$filter: expected a property, found {path!r}")
    if len(tokens) > 1 and tokens[1] == ("punct", "("):
        return _function(path, tokens)
    if len(tokens) < 3 or tokens[1][0] != "word" or tokens[1][1] not in OPERATORS:
        found = tokens[1][1] if len(tokens) > 1 else "the end"
        if len(tokens) > 1 and tokens[1][1] in ("add", "sub", "mul", "div", "mod", "has", "in"):
            raise FilterError(f"$filter: the operator {found} is not implemented", not_implemented=True)
        raise FilterError(f"$filter: expected one of {', '.join(OPERATORS)} after {path}, found {found!r}")
    return Comparison(path, tokens[1][1], _literal(tokens[2])), tokens[3:]


def _function(name: str, tokens: list[tuple[str, str]]) -> tuple[Expression, list[tuple[str, str]]]:
    """``st_within`` and ``geo.distance`` with a property and a geography literal; other functions are 501."""
    if name not in ("st_within", "geo.distance"):
        raise FilterError(f"$filter: the function {name}() is not implemented", not_implemented=True)
    shape = ("(", "word", ",", "word", "string", ")")  # ( property , geography 'WKT' )
    got = tokens[1 : 1 + len(shape)]
    if len(got) < len(shape) or any(want not in (kind, text) for want, (kind, text) in zip(shape, got, strict=True)):
        raise FilterError(f"$filter: {name}(property, geography'...') is the form implemented")
    path, (_, geography), (_, wkt), rest = got[1][1], got[3], got[4], tokens[1 + len(shape) :]
    if geography != "geography":
        raise FilterError(f"$filter: {name}() takes a geography'...' literal")
    points = tuple((float(x), float(y)) for x, y in _WKT_NUMBERS.findall(wkt[1:-1]))
    if name == "st_within":
        if not wkt[1:].upper().startswith("POLYGON((") or len(points) < 4:
            raise FilterError("$filter: st_within takes a geography'POLYGON((x y, ...))' of at least four points")
        return Within(path, points), rest
    if not wkt[1:].upper().startswith("POINT(") or len(points) != 1:
        raise FilterError("$filter: geo.distance takes a geography'POINT(x y)'")
    if len(rest) < 2 or rest[0][0] != "word" or rest[0][1] not in OPERATORS or rest[1][0] != "number":
        raise FilterError("$filter: geo.distance(...) is compared with a number, e.g. lt 0.01")
    return Distance(path, points[0], rest[0][1], float(rest[1][1])), rest[2:]


def _literal(token: tuple[str, str]) -> Any:
    kind, text = token
    if kind == "string":
        return text[1:-1].replace("''", "'")
    if kind == "number":
        return float(text)
    if kind == "time":
        try:
            return parse_timestamp(text)
        except (ValueError, DecodeError):
            raise FilterError(f"$filter: {text!r} is not a time") from None
    if kind == "word" and text in ("true", "false", "null"):
        return {"true": True, "false": False, "null": None}[text]
    raise FilterError(f"$filter: expected a literal, found {text!r}")


def matches(expression: Expression, entity: dict[str, Any]) -> bool:
    """Whether an entity (its JSON, times as ISO text) satisfies the expression."""
    if isinstance(expression, Logical):
        results = [matches(operand, entity) for operand in expression.operands]
        return {"and": all, "or": any}[expression.operator](results) if expression.operator != "not" else not results[0]
    value: Any = entity
    for part in expression.path.split("/"):
        value = value.get("@iot.id" if part == "id" else part) if isinstance(value, dict) else None
    if isinstance(expression, Comparison):
        return compare(value, expression.operator, expression.value)
    point = _point(value)
    if point is None:
        return False
    if isinstance(expression, Within):
        return _inside(point, expression.ring)
    distance = math.dist(point, expression.point)
    return compare(distance, expression.operator, expression.value)


def _point(value: Any) -> tuple[float, float] | None:
    """A GeoJSON point's (x, y), or None for anything else."""
    if isinstance(value, dict) and value.get("type") == "Point":
        coordinates = value.get("coordinates")
        if isinstance(coordinates, list) and len(coordinates) >= 2:
            return float(coordinates[0]), float(coordinates[1])
    return None


def _inside(point: tuple[float, float], ring: tuple[tuple[float, float], ...]) -> bool:
    """Even-odd rule: a ray from the point crosses the ring's edges an odd number of times."""
    x, y = point
    inside = False
    for (x1, y1), (x2, y2) in zip(ring, ring[1:] + ring[:1], strict=True):
        if (y1 > y) != (y2 > y) and x < x1 + (y - y1) * (x2 - x1) / (y2 - y1):
            inside = not inside
    return inside


def compare(left: Any, operator: str, right: Any) -> bool:
    if isinstance(right, datetime) and isinstance(left, str):
        try:
            left = parse_timestamp(left.split("/")[0])
        except (ValueError, DecodeError):
            return False
    if operator == "eq":
        return bool(left == right)
    if operator == "ne":
        return bool(left != right)
    if left is None or right is None or isinstance(left, bool) != isinstance(right, bool):
        return False
    try:
        return bool({"gt": left > right, "ge": left >= right, "lt": left < right, "le": left <= right}[operator])
    except TypeError:
        return False
