"""A batch is exactly the records the log holds, as one write; a record round-trips through its bytes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from iot_suitcase.ingest.sink.batch import batch_of, record_text
from iot_suitcase.ingest.wal.records import (
    KEY_BYTES,
    POINTS,
    Record,
    Reject,
    decode_record,
    points_record,
    reject_record,
)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# line protocol lines are never empty and never hold a newline
lines = st.lists(st.text(st.characters(exclude_characters="\n", exclude_categories=["Cs"]), min_size=1), max_size=4)
keys = st.binary(min_size=KEY_BYTES, max_size=KEY_BYTES)
moments = st.integers(0, 2**62 // 1000).map(lambda micros: EPOCH + timedelta(microseconds=micros))
points = st.builds(
    lambda key, topic, payload, at, readings, bookkeeping: Record(
        POINTS, key, topic, payload, at, readings, None, bookkeeping
    ),
    keys,
    st.text(max_size=40),
    st.binary(max_size=100),
    moments,
    lines,
    lines,
)
rejects = st.builds(
    lambda key, topic, payload, at, device, bookkeeping: (
        key,
        Reject(topic, payload, at, device, "out_of_range", "too hot"),
        bookkeeping,
    ),
    keys,
    st.text(max_size=20),
    st.binary(max_size=50),
    moments,
    st.none() | st.text(max_size=8),
    lines,
)


def _body(record: Record, *, idempotent: bool = False) -> bytes:
    return points_record(
        record.key,
        record.topic,
        record.payload,
        record.received_at,
        record.lines,
        bookkeeping=record.bookkeeping,
        idempotent=idempotent,
    )


@given(st.lists(st.tuples(points | rejects, st.booleans()), max_size=12))
def test_a_batch_is_the_records_of_the_log_as_one_write(
    items: list[tuple[Record | tuple[bytes, Reject, list[str]], bool]],
) -> None:
    bodies = [
        _body(item, idempotent=flag) if isinstance(item, Record) else reject_record(*item, idempotent=flag)
        for item, flag in items
    ]
    decoded = [decode_record(body) for body in bodies]
    batch = batch_of(bodies)
    assert batch.bodies == bodies
    assert batch.text == "\n".join(line for record in decoded for line in (*record.lines, *record.bookkeeping))
    assert batch.messages == sum(1 for record in decoded if record.kind == POINTS)
    assert batch.readings == sum(len(record.lines) for record in decoded)
    assert batch.rejects == [(record.key, record.reject) for record in decoded if record.reject is not None]
    assert batch.records() == decoded
    assert batch.idempotent == [record for (_, flag), record in zip(items, decoded, strict=True) if flag]


@given(points)
def test_a_kept_record_round_trips_through_its_bytes(record: Record) -> None:
    assert decode_record(_body(record)) == record
    assert record_text(record) == "\n".join([*record.lines, *record.bookkeeping])


def test_received_now_round_trips() -> None:
    record = Record(POINTS, b"k" * KEY_BYTES, "t/d/up", b"{}", datetime.now(UTC), ["m v=1 1"], None, ["u n=1 1"])
    assert decode_record(_body(record)) == record
