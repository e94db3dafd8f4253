"""A flood of refused requests costs neither memory nor the service's log: counted, sampled, logged sparingly."""

from __future__ import annotations

import logging

import pytest

from ingest.sources.refusals import RefusedRequests


def test_a_flood_of_refusals_is_counted_in_full_and_kept_and_logged_bounded(caplog: pytest.LogCaptureFixture) -> None:
    refusals = RefusedRequests(kept=50, log_keys=100)
    with caplog.at_level(logging.WARNING):
        for n in range(5_000):
            refusals.refused(401, f"made-up-{n % 300}", "/v1/devices/x/readings", "10.0.0.9")
        for _ in range(1_000):
            refusals.refused(429, "kit-1", "/v1/devices/kit-1/readings", "10.0.0.9")
    assert refusals.counts == {401: 5_000, 429: 1_000}
    assert len(refusals.latest()) == 50
    assert refusals.latest()[0].status == 429
    logged = [record for record in caplog.records if "refused an HTTP request" in record.getMessage()]
    # one line per (status, device) and minute while its key is remembered; the key table is bounded too
    assert 301 <= len(logged) <= 300 * (5_000 // 300 + 1) + 1
    assert sum("device=kit-1 " in record.getMessage() for record in logged) == 1


def test_long_or_hostile_fields_are_cut() -> None:
    refusals = RefusedRequests()
    refusals.refused(404, "x" * 10_000, "/" + "p" * 10_000, "r" * 1_000)
    [kept] = refusals.latest()
    assert (len(kept.device), len(kept.path), len(kept.remote)) == (80, 80, 64)
