"""The public side's short-lived cache: an answer lives its time and no longer, and the cache stays in its
bounds however many answers it is given."""

from __future__ import annotations

from iot_suitcase.ingest.opendata.cache import AnswerCache


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_an_answer_lives_its_time_and_no_longer() -> None:
    clock = Clock()
    cache = AnswerCache(ttl_s=10, clock=clock)
    cache.put("/sta/v1.1/Things", b"[]")
    clock.now = 9.9
    assert cache.get("/sta/v1.1/Things") == b"[]"
    clock.now = 10.1
    assert cache.get("/sta/v1.1/Things") is None, "a withdrawal is public within the time"


def test_the_cache_keeps_within_its_bytes_dropping_the_least_recently_used() -> None:
    cache = AnswerCache(ttl_s=60, max_bytes=800, clock=Clock())
    for n in range(10):
        cache.put(f"/{n}", bytes(100))
        assert cache.get("/0") is not None, "asked again and again: kept"
    assert cache.get("/1") is None
    assert cache.get("/9") is not None
    cache.put("/huge", bytes(200))
    assert cache.get("/huge") is None, "no answer takes more than an eighth"
