"""A small line chart of a day as inline SVG, drawn on the server: no script, no chart library, allowed by the
console's content security policy, readable without colour (the lowest and highest values are written)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from markupsafe import Markup, escape

WIDTH, HEIGHT, PAD = 240, 48, 3


def sparkline(series: Sequence[tuple[datetime, float]], end: datetime, label: str) -> Markup:
    """``series`` over the 24 h before ``end``, as an SVG polyline; empty when there is nothing to draw."""
    if not series:
        return Markup("")
    start = end - timedelta(hours=24)
    values = [value for _at, value in series]
    low, high = min(values), max(values)
    span = (high - low) or 1.0

    def x(at: datetime) -> float:
        return PAD + (WIDTH - 2 * PAD) * min(max((at - start) / timedelta(hours=24), 0.0), 1.0)

    def y(value: float) -> float:
        return HEIGHT - PAD - (HEIGHT - 2 * PAD) * (value - low) / span

    points = " ".join(f"{x(at):.1f},{y(value):.1f}" for at, value in series)
    if len(series) == 1:  # one bucket: a dot, since a line needs two
        at, _value = series[0]
        return Markup(
            '<svg class="spark" role="img" width="{w}" height="{h}" viewBox="0 0 {w} {h}" aria-label="{label}">'
            '<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="#1a5fb4"/></svg>'
        ).format(w=WIDTH, h=HEIGHT, label=escape(label), x=x(at), y=HEIGHT / 2)
    return Markup(
        '<svg class="spark" role="img" width="{w}" height="{h}" viewBox="0 0 {w} {h}" aria-label="{label}">'
        '<polyline fill="none" stroke="#1a5fb4" stroke-width="1.5" points="{points}"/></svg>'
    ).format(w=WIDTH, h=HEIGHT, label=escape(label), points=points)
