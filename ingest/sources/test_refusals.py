"""A flood of refused requests costs neither memory nor the service's log: counted, sampled, logged sparingly."""

from __future__ import annotations

import logging

import pytest

from iot_suitcase.ingest.sources.refusals import RefusedRequests


def test_a_flood_of_refusals_is_counted_in_full_and_kept_and_logged_bounded(caplog: pytest.LogCaptureFixture) -> None:
    refusals = RefusedRequests(kept=50, log_keys=100, log_lines=20)
    with caplog.at_level(logging.WARNING):
        for n in range(5_000):
            refusals.refused(401, f"made-up-{n % 300}", "/v1/devices/x/readings", "10.0.0.9")
        for _ in range(1_000):
            refusals.refused(429, "kit-1", "/v1/devices/kit-1/readings", "10.0.0.9")
    assert refusals.counts == {401: 5_000, 429: 1_000}
    assert len(refusals.latest()) == 50
    assert refusals.latest()[0].status == 429
    logged = [record for record in caplog.records if "refused an HTTP request" in record.getMessage()]
    # a flood of made-up ids is one flood: at most 20 lines a minute in all, whatever the ids
    assert len(logged) == 20
    assert sum("device=kit-1 " in record.getMessage() for record in logged) == 0, "the budget was spent"


def test_long_or_hostile_fields_are_cut() -> None:
    refusals = RefusedRequests()
    refusals.refused(404, "x" * 10_000, "/" + "p" * 10_000, "r" * 1_000)
    [kept] = refusals.latest()
    assert (len(kept.device), len(kept.path), len(kept.remote)) == (80, 80, 64)


def test_each_device_is_logged_once_a_minute_and_the_next_line_counts_what_went_unlogged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    refusals = RefusedRequests(log_lines=2, log_every_s=60.0)
    with caplog.at_level(logging.WARNING):
        for device in ("kit-1", "kit-1", "kit-2", "kit-3", "kit-4"):
            refusals.refused(401, device, "/v1/devices/x/readings", None)
        refusals._window_start -= 61  # a minute later
        refusals.refused(401, "kit-5", "/v1/devices/x/readings", None)
    lines = [record.getMessage() for record in caplog.records]
    assert [line.split("device=")[1].split(" ")[0] for line in lines] == ["kit-1", "kit-2", "kit-5"]
    assert lines[-1].endswith("unlogged_before=2")
    assert refusals.counts[401] == 6
