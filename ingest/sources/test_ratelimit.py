"""The token bucket, on a clock the test moves (no sleeping, no timing assertions)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from iot_suitcase.ingest.sources.ratelimit import Pace, RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_burst_then_steady_rate_then_refill() -> None:
    clock = Clock()
    limiter = RateLimiter(rate=2, burst=3, clock=clock)
    assert [limiter.allow("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.allow("a") == 0.5
    assert limiter.allow("b") == 0.0, "devices have separate buckets"
    clock.now += 0.5
    assert limiter.allow("a") == 0.0
    assert limiter.allow("a") > 0
    clock.now += 60
    assert [limiter.allow("a") for _ in range(4)] == [0.0, 0.0, 0.0, 0.5], "refill stops at the burst size"


@given(gaps=st.lists(st.floats(min_value=0, max_value=5), min_size=1, max_size=60))
def test_never_more_than_burst_plus_rate_times_elapsed(gaps: list[float]) -> None:
    clock = Clock()
    limiter = RateLimiter(rate=1.5, burst=4, clock=clock)
    start = clock.now
    allowed = 0
    for gap in gaps:
        clock.now += gap
        allowed += limiter.allow("dev") == 0.0
    assert allowed <= 4 + 1.5 * (clock.now - start) + 1e-9


@given(
    rate=st.floats(min_value=1, max_value=500),
    gaps=st.lists(st.floats(min_value=0, max_value=2), min_size=1, max_size=80),
)
def test_a_reader_keeping_pace_stays_within_a_second_of_its_quota(rate: float, gaps: list[float]) -> None:
    """A reader that reads what ``available`` allows, then waits what ``take`` says, stays within
    rate x elapsed plus a second's worth (and one message), however its turns fall."""
    clock = Clock()
    pace = Pace(rate, clock=clock)
    start, read = clock.now, 0
    for gap in gaps:
        clock.now += gap
        turn = pace.available()
        read += turn
        clock.now += pace.take(turn)
        assert read <= rate * (clock.now - start) + max(rate, 1.0) + 1
    assert pace.paused_s >= 0


def test_pace_waits_only_when_over_and_counts_its_waits() -> None:
    clock = Clock()
    pace = Pace(10, clock=clock)
    assert pace.available() == 10
    assert pace.take(10) == 0.0
    assert pace.take(5) == 0.5
    assert pace.paused_s == 0.5
    clock.now += 0.5
    assert pace.available() == 1, "never zero: reading always goes on, one message at least"
