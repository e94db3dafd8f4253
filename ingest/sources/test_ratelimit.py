"""The token bucket, on a clock the test moves (no sleeping, no timing assertions)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from iot_suitcase.ingest.sources.ratelimit import RateLimiter


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
