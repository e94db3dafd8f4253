"""The fleet at a glance (the console's first screen): how many devices are ok, late, silent, never seen, low
on battery or rejecting; then the devices that match the staff's search and filters, a page at a time, grouped
by site. Built from the status board's rows, so it says what the service knows this second."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass, replace
from datetime import datetime
from functools import cached_property
from urllib.parse import urlencode

from iot_suitcase.devices.catalog import load_catalog
from iot_suitcase.ingest.console.display import Shown, shown

PAGE_SIZE = 100
STATES = ("ok", "late", "silent", "never")  # against each device's expected interval
TROUBLES = ("low_battery", "rejecting", "waiting")  # across states: a device can be ok and low on battery
SIGNAL = ("battery", "battery_voltage", "rssi", "snr")  # shown in their own columns, not among the values
_FIELD_CHARS = 100


@dataclass(frozen=True, slots=True)
class FleetQuery:
    """What the staff asked for, from the page's query string (every field bounded and optional)."""

    text: str = ""
    site: str = ""
    kind: str = ""
    model: str = ""
    state: str = ""
    page: int = 1

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> FleetQuery:
        def field(name: str) -> str:
            return query.get(name, "").strip()[:_FIELD_CHARS]

        page = query.get("page", "1")
        state = field("state")
        return cls(
            text=field("q"),
            site=field("site"),
            kind=field("kind"),
            model=field("model"),
            state=state if state in STATES + TROUBLES else "",
            page=int(page) if page.isdecimal() and 0 < int(page) < 1_000_000 else 1,
        )

    def link(self, **changes: str | int) -> str:
        """This query with some fields changed, as a query string (``?state=late``); page 1 unless given."""
        changed = replace(self, **({"page": 1} | changes))  # type: ignore[arg-type]
        fields = {
            "q": changed.text,
            "site": changed.site,
            "kind": changed.kind,
            "model": changed.model,
            "state": changed.state,
            "page": str(changed.page) if changed.page > 1 else "",
        }
        return "?" + urlencode({k: v for k, v in fields.items() if v})

    @property
    def filtered(self) -> bool:
        return any((self.text, self.site, self.kind, self.model, self.state))


@dataclass(frozen=True)  # no slots: values are formatted once, when a page shows them (cached_property)
class DeviceRow:
    id: str
    name: str
    site: str
    model: str
    kind: str
    registered: bool
    state: str
    last_seen: datetime | None
    messages: int
    reject_reason: str | None  # why its latest message was not stored, when nothing was stored since
    reject_detail: str | None
    latest: Mapping[str, Mapping[str, object]]  # quantity -> value, unit, time, as the status board has it
    language: str
    waiting: int = 0  # messages it sent before it was registered, kept to be taken in
    taking_in: bool = False  # staff asked for them; the service is on it

    # Values are formatted for the rows a page shows, not for every device the counts go through.
    @cached_property
    def _shown(self) -> dict[str, Shown]:
        return {
            quantity: shown(quantity, float(r["value"]), str(r["unit"]), self.language)  # type: ignore[arg-type]
            for quantity, r in self.latest.items()
        }

    @property
    def values(self) -> tuple[Shown, ...]:
        return tuple(s for q, s in self._shown.items() if q not in SIGNAL)

    @property
    def battery(self) -> Shown | None:
        return self._shown.get("battery") or self._shown.get("battery_voltage")

    @property
    def signal(self) -> Shown | None:
        return self._shown.get("rssi")

    @property
    def low_battery(self) -> bool:
        for quantity in ("battery", "battery_voltage"):
            reading, entry = self.latest.get(quantity), load_catalog().quantities.get(quantity)
            if reading is not None:
                return entry is not None and entry.needs_attention(float(reading["value"]))  # type: ignore[arg-type]
        return False

    def matches(self, query: FleetQuery) -> bool:
        if query.site and self.site != query.site:
            return False
        if query.kind and self.kind != query.kind:
            return False
        if query.model and self.model != query.model:
            return False
        if query.state and query.state not in (self.state, *self.troubles):
            return False
        text = query.text.lower()
        return not text or any(text in field.lower() for field in (self.id, self.name, self.site, self.model))

    @property
    def troubles(self) -> tuple[str, ...]:
        return tuple(
            t for t, has in (("low_battery", self.low_battery), ("rejecting", bool(self.reject_reason))) if has
        )


@dataclass(frozen=True, slots=True)
class SiteGroup:
    site: str
    devices: tuple[DeviceRow, ...]
    ok: int  # of the site's devices on this page


@dataclass(frozen=True, slots=True)
class Fleet:
    counts: Mapping[str, int]  # all, each state and trouble, knocking (unknown devices)
    sites: Sequence[str]
    kinds: Sequence[str]
    models: Sequence[str]
    groups: Sequence[SiteGroup]
    matched: int
    page: int
    pages: int
    first: int  # 1-based number of the first device shown
    last: int


def device_row(
    row: Mapping[str, object],
    language: str,
    waiting: Mapping[str, int] | None = None,
    taking_in: Set[str] = frozenset(),
) -> DeviceRow:
    """A status board row (``StatusBoard.devices``) as the console shows it."""
    latest: Mapping[str, Mapping[str, object]] = row["latest"]  # type: ignore[assignment]
    reject: Mapping[str, str] | None = row["last_reject"]  # type: ignore[assignment]
    seen = row["last_seen"]
    return DeviceRow(
        id=str(row["id"]),
        name=str(row["name"] or row["id"]),
        site=str(row["site"] or ""),
        model=str(row["model"] or ""),
        kind=str(row["kind"] or ""),
        registered=bool(row["registered"]),
        state=str(row["state"]),
        last_seen=datetime.fromisoformat(seen) if isinstance(seen, str) else None,
        messages=int(row["messages"]),  # type: ignore[call-overload]
        reject_reason=reject["reason"] if reject else None,
        reject_detail=reject["detail"] if reject else None,
        latest=latest,
        language=language,
        waiting=(waiting or {}).get(str(row["id"]), 0),
        taking_in=str(row["id"]) in taking_in,
    )


def fleet(rows: Sequence[DeviceRow], query: FleetQuery, knocking: int, page_size: int = PAGE_SIZE) -> Fleet:
    counts = Counter(row.state for row in rows)
    counts.update(trouble for row in rows for trouble in row.troubles)
    matched = sorted((row for row in rows if row.matches(query)), key=lambda row: (row.site or "\uffff", row.id))
    pages = max(1, -(-len(matched) // page_size))
    page = min(query.page, pages)
    shown_rows = matched[(page - 1) * page_size : page * page_size]
    groups: dict[str, list[DeviceRow]] = {}
    for row in shown_rows:
        groups.setdefault(row.site, []).append(row)
    return Fleet(
        counts={"all": len(rows), **{key: counts[key] for key in STATES + TROUBLES}, "knocking": knocking},
        sites=sorted({row.site for row in rows if row.site}),
        kinds=sorted({row.kind for row in rows if row.kind}),
        models=sorted({row.model for row in rows if row.model}),
        groups=[
            SiteGroup(site, tuple(devices), sum(d.state == "ok" for d in devices)) for site, devices in groups.items()
        ],
        matched=len(matched),
        page=page,
        pages=pages,
        first=(page - 1) * page_size + 1 if matched else 0,
        last=(page - 1) * page_size + len(shown_rows),
    )
