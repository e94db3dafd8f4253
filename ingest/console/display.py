"""A reading as people read it, from its catalog entry: short name, the quantity's decimals in the viewer's
number format, the unit as written by hand (°C, µg/m³), a 0/1 state as a word, a value that needs a visit
marked. ``21,5 °C`` in Danish, ``21.5 °C`` in English, ``open`` for a door."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from babel.dates import format_timedelta
from babel.numbers import format_decimal

from iot_suitcase.devices.catalog import load_catalog


@dataclass(frozen=True, slots=True)
class Shown:
    quantity: str
    label: str  # the short name: "PM2.5"
    text: str  # "12.3 µg/m³", "open"
    title: str  # the full name, for a tooltip
    attention: bool = False  # below the level where the device needs a visit (a low battery)


def number(value: float, decimals: int, language: str) -> str:
    pattern = "#,##0" + ("." + "0" * decimals if decimals else "")
    return format_decimal(value, format=pattern, locale=language)


def shown(quantity: str, value: float, unit: str, language: str) -> Shown:
    entry = load_catalog().quantities.get(quantity)
    if entry is None:  # stored before the catalog lost it: show it plainly
        return Shown(quantity, quantity, f"{number(value, 2, language)} {unit}".strip(), quantity)
    word = entry.state_word(value, language)
    text = word if word is not None else f"{number(value, entry.decimals, language)} {entry.symbol}".strip()
    label = entry.short_label(language)
    return Shown(quantity, label, text, entry.label(language), entry.needs_attention(value))


def ago(moment: datetime | None, language: str, now: datetime | None = None) -> str:
    """How long ago, in words: "3 minutes ago", "for 3 minutter siden"; empty for never."""
    if moment is None:
        return ""
    delta = min(moment - (now or datetime.now(UTC)), timedelta(0))  # a clock a little ahead reads as "now"
    return format_timedelta(delta, add_direction=True, locale=language, threshold=1.5)
