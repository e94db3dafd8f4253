"""A record kept at intake is exactly what the drainer would decode from the log's bytes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from ingest.recent import RecentRecords
from ingest.records import KEY_BYTES, POINTS, Record, decode_record, points_record

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# line protocol lines never hold a newline; the log keeps topics with surrogateescape
lines = st.lists(st.text(st.characters(exclude_characters="\n", exclude_categories=["Cs"]), min_size=1), max_size=4)
records = st.builds(
    lambda key, topic, payload, micros, readings, bookkeeping: Record(
        POINTS, key, topic, payload, EPOCH + timedelta(microseconds=micros), readings, None, bookkeeping
    ),
    st.binary(min_size=KEY_BYTES, max_size=KEY_BYTES),
    st.text(max_size=40),
    st.binary(max_size=200),
    st.integers(0, 2**62 // 1000),
    lines,
    lines,
)


def _body(record: Record) -> bytes:
    return points_record(
        record.key,
        record.topic,
        record.payload,
        record.received_at,
        record.lines,
        bookkeeping=record.bookkeeping,
    )


@given(records)
def test_the_kept_record_equals_the_decoded_bytes(record: Record) -> None:
    body = _body(record)
    assert decode_record(body) == record
    recent = RecentRecords(limit=10)
    recent.add(body, record)
    assert recent.take(body) is record
    assert len(recent) == 0
    assert recent.take(body) == record  # handed out once, then decoded from the bytes


def test_received_now_round_trips() -> None:
    record = Record(POINTS, b"k" * KEY_BYTES, "t/d/up", b"{}", datetime.now(UTC), ["m v=1 1"], None, ["u n=1 1"])
    assert decode_record(_body(record)) == record


def test_the_cache_is_bounded_and_forgets_on_request() -> None:
    recent = RecentRecords(limit=2)
    kept = [Record(POINTS, bytes([n]) * KEY_BYTES, "t", b"", EPOCH, [f"m v={n}"], None, []) for n in range(3)]
    bodies = [_body(record) for record in kept]
    for body, record in zip(bodies, kept, strict=True):
        recent.add(body, record)
    assert len(recent) == 2
    recent.forget(bodies[0])
    assert len(recent) == 1
    assert [recent.take(body) for body in bodies] == kept
    assert len(recent) == 0
