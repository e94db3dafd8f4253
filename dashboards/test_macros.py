"""The Grafana-substitution mimic used by the query tests, and the guidance data file."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from iot_suitcase.dashboards.influxql import quote_ident, quote_string, regex_any_of
from iot_suitcase.dashboards.testing_macros import (
    ALL,
    Variable,
    format_interval,
    interpolate,
    panel_interval_ms,
    parse_duration_ms,
    regex_escape,
)
from iot_suitcase.dashboards.thresholds import Period, load_thresholds, parse_thresholds
from iot_suitcase.devices.catalog import load_catalog

END = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
START = END - timedelta(hours=6)


def run(query: str, **variables: Variable) -> str:
    return interpolate(query, start=START, end=END, interval_ms=60_000, variables=variables)


def test_time_filter_and_intervals_as_grafanas_influxdb_backend_writes_them() -> None:
    text = run("SELECT mean(v) FROM m WHERE $timeFilter GROUP BY time($__interval) -- $__interval_ms $interval")
    start_ms, end_ms = int(START.timestamp() * 1000), int(END.timestamp() * 1000)
    assert text == (
        f"SELECT mean(v) FROM m WHERE time >= {start_ms}ms and time <= {end_ms}ms GROUP BY time(1m) -- 60000 1m"
    )


def test_regex_format_escapes_and_groups_values() -> None:
    site = Variable("site", ["harbour", "dokk.1"])
    assert run('"site" =~ /^${site:regex}$/', site=site) == '"site" =~ /^(harbour|dokk\\.1)$/'
    single = Variable("site", ["a/b.c"])
    assert run("/^${site:regex}$/", site=single) == "/^a\\/b\\.c$/"


def test_all_with_a_custom_all_value_is_inserted_raw() -> None:
    site = Variable("site", ALL, options=["a", "b"], all_value=".*")
    assert run("/^${site:regex}$/ $site", site=site) == "/^.*$/ .*"


def test_all_without_a_custom_value_lists_every_option() -> None:
    site = Variable("site", ALL, options=["a", "b"])
    assert run("/^${site:regex}$/", site=site) == "/^(a|b)$/"


def test_default_format_and_other_formats() -> None:
    device = Variable("device", ["x.1", "y"])
    assert run("$device", device=device) == "(x\\.1|y)"
    assert run("${device:pipe} ${device:csv}", device=device) == "x.1|y x.1,y"
    number = Variable("n", ["12.5"], multi=False, include_all=False)
    assert run("$n", n=number) == "12.5"
    with pytest.raises(ValueError, match="not mimicked"):
        run("${device:lucene}", device=device)


def test_unknown_names_and_regex_anchors_are_left_alone() -> None:
    assert run("/^x$/ $nothing ${other}", site=Variable("site", ["a"])) == "/^x$/ $nothing ${other}"


def test_builtin_from_and_to_are_epoch_milliseconds() -> None:
    assert run("$__from-$__to") == f"{int(START.timestamp() * 1000)}-{int(END.timestamp() * 1000)}"


@pytest.mark.parametrize(
    ("hours", "points", "minimum", "expected_ms"),
    [
        (6, 1000, "10s", 20_000),  # 21.6 s rounds to 20 s
        (1, 1000, "10s", 10_000),  # 3.6 s, raised to the minimum
        (24, 1000, "10s", 60_000),  # 86.4 s rounds to 1 m
        (24 * 7, 1000, "10s", 600_000),  # 604.8 s rounds to 10 m
        (1, 100, "1s", 30_000),  # 36 s rounds to 30 s
    ],
)
def test_panel_interval_follows_grafanas_rounding(hours: int, points: int, minimum: str, expected_ms: int) -> None:
    start = END - timedelta(hours=hours)
    assert panel_interval_ms(start, END, max_data_points=points, min_interval=minimum) == expected_ms


@pytest.mark.parametrize(
    ("ms", "text"), [(500, "500ms"), (10_000, "10s"), (90_000, "1m"), (3_600_000, "1h"), (172_800_000, "2d")]
)
def test_interval_text_truncates_like_go(ms: int, text: str) -> None:
    assert format_interval(ms) == text


def test_durations() -> None:
    assert parse_duration_ms("7d") == 7 * 86_400_000
    with pytest.raises(ValueError, match="not a Grafana duration"):
        parse_duration_ms("7 days")


def test_influxql_literals() -> None:
    assert quote_ident('we"ird') == '"we\\"ird"'
    assert quote_string("it's") == "'it\\'s'"
    assert regex_any_of(["a.b", "c/d"]) == "/^(a\\.b|c\\/d)$/"
    assert regex_escape("(x)") == "\\(x\\)"
    with pytest.raises(ValueError, match="matches nothing"):
        regex_any_of([])


def test_guidance_file_is_valid_against_the_catalog() -> None:
    thresholds = load_thresholds()
    thresholds.check_against(load_catalog())
    assert all(entry.source for entry in thresholds.guidance)
    co2 = thresholds.for_quantity("co2")
    assert [entry.value for entry in co2] == [1000, 2000]
    assert all(entry.period is not Period.YEAR for entry in thresholds.for_quantity("pm2_5"))
    assert any(entry.period is Period.YEAR for entry in thresholds.for_quantity("pm2_5", drawn_only=False))
    assert thresholds.battery.percent_below == 15
    assert "dragino/ldds75" in thresholds.voltage_thresholds()


def test_guidance_file_mistakes_are_refused() -> None:
    good = (
        'alert_for_minutes = 5\n[battery]\npercent_below = 15\nsource = "a long enough source"\n'
        '[[guidance]]\nid = "x-1"\nquantity = "co2"\nvalue = 1000.0\nperiod = "instant"\nname = "n"\n'
        'source = "a long enough source"\n'
    )
    assert parse_thresholds(good).guidance[0].alerting
    with pytest.raises(ValueError, match="period"):
        parse_thresholds(good.replace('"instant"', '"fortnight"'))
    with pytest.raises(ValueError, match="given twice"):
        parse_thresholds(good + good[good.index("[[guidance]]") :])
    with pytest.raises(ValueError, match="not a catalog quantity"):
        parse_thresholds(good.replace('"co2"', '"unobtainium"')).check_against(load_catalog())
    with pytest.raises(ValueError, match="plausible range"):
        parse_thresholds(good.replace("1000.0", "99999.0")).check_against(load_catalog())
