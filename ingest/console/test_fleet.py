"""The fleet at a glance: counts over every device, filters, search, a page at a time grouped by site."""

from __future__ import annotations

from datetime import UTC, datetime

from iot_suitcase.ingest.console.fleet import PAGE_SIZE, FleetQuery, device_row, fleet

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC).isoformat()


def board_row(
    n: int, *, site: str, state: str = "ok", battery: float | None = 80.0, rejected: bool = False
) -> dict[str, object]:
    latest: dict[str, dict[str, object]] = {"temperature": {"value": 20.0 + n / 10, "unit": "degC", "time": NOW}}
    if battery is not None:
        latest["battery"] = {"value": battery, "unit": "%", "time": NOW}
    return {
        "id": f"kit-{n:04d}",
        "registered": True,
        "site": site,
        "model": "elsys/ers" if n % 2 else "native",
        "kind": "climate",
        "name": f"Room {n}",
        "interval_s": 600,
        "last_seen": None if state == "never" else NOW,
        "state": state,
        "format": "native",
        "messages": 0 if state == "never" else 3,
        "last_reject": {"reason": "out_of_range", "detail": "too hot", "time": NOW} if rejected else None,
        "latest": {} if state == "never" else latest,
    }


def test_counts_cover_every_device_while_a_page_shows_a_hundred_grouped_by_site() -> None:
    rows = [device_row(board_row(n, site=f"site-{n % 40:02d}"), "en") for n in range(5000)]
    rows[7] = device_row(board_row(7, site="site-07", state="late", battery=9.0), "en")
    rows[8] = device_row(board_row(8, site="site-08", state="never", rejected=True), "en")
    shown = fleet(rows, FleetQuery(), knocking=3)
    assert shown.counts == {
        "all": 5000,
        "ok": 4998,
        "late": 1,
        "silent": 0,
        "never": 1,
        "low_battery": 1,
        "rejecting": 1,
        "waiting": 0,
        "knocking": 3,
    }
    assert (shown.matched, shown.pages, shown.first, shown.last) == (5000, 50, 1, PAGE_SIZE)
    assert sum(len(group.devices) for group in shown.groups) == PAGE_SIZE
    assert [group.site for group in shown.groups] == ["site-00"], "sorted by site, then id: 125 devices a site"
    second = fleet(rows, FleetQuery(page=2), knocking=0)
    assert [(g.site, len(g.devices)) for g in second.groups] == [("site-00", 25), ("site-01", 75)]
    assert len(shown.sites) == 40
    last = fleet(rows, FleetQuery(page=999), knocking=0)
    assert (last.page, last.first, last.last) == (50, 4901, 5000), "a page past the end shows the last"


def test_filters_and_search_narrow_the_list_but_not_the_counts() -> None:
    rows = [device_row(board_row(n, site=f"site-{n % 4}"), "en") for n in range(40)]
    rows[5] = device_row(board_row(5, site="site-1", battery=5.0), "en")
    assert fleet(rows, FleetQuery(state="low_battery"), 0).matched == 1
    assert fleet(rows, FleetQuery(site="site-2"), 0).matched == 10
    assert fleet(rows, FleetQuery(model="native"), 0).matched == 20
    assert fleet(rows, FleetQuery(site="site-1", model="native"), 0).matched == 0
    assert fleet(rows, FleetQuery(text="ROOM 1"), 0).matched == 11, "room 1 and rooms 10-19, any case"
    found = fleet(rows, FleetQuery(text="kit-0033"), 0)
    assert [d.id for g in found.groups for d in g.devices] == ["kit-0033"]
    assert found.counts["all"] == 40
    assert fleet(rows, FleetQuery(kind="nothing"), 0).matched == 0


def test_a_query_string_is_read_bounded_and_written_back() -> None:
    query = FleetQuery.from_query({"q": " x " + "y" * 500, "state": "evil", "page": "-3", "site": "dokk1"})
    assert (len(query.text), query.state, query.page, query.site) == (100, "", 1, "dokk1")
    assert FleetQuery.from_query({"page": "7"}).page == 7
    assert query.link(state="late").startswith("?q=x+yyy")
    assert "page" not in query.link(state="late"), "a new filter starts at page 1"
    assert FleetQuery(site="a b&c").link(page=3) == "?site=a+b%26c&page=3"
