"""Record keys stay what earlier versions wrote: the log of a running service is recovered by the next one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from hashlib import blake2b

from hypothesis import given
from hypothesis import strategies as st

from iot_suitcase.ingest.wal.records import KEY_BYTES, _micros, decode_record, message_key, points_record


def _incremental(topic: str, payload: bytes, mid: int) -> bytes:
    digest = blake2b(digest_size=KEY_BYTES)
    digest.update(topic.encode("utf-8", "surrogateescape"))
    digest.update(b"\0")
    digest.update(mid.to_bytes(4, "little"))
    digest.update(payload)
    return digest.digest()


@given(st.text(max_size=60), st.binary(max_size=300), st.integers(0, 2**32 - 1))
def test_message_key_is_the_hash_it_always_was(topic: str, payload: bytes, mid: int) -> None:
    assert message_key(topic, payload, mid) == _incremental(topic, payload, mid)


@given(st.datetimes(timezones=st.just(UTC)))
def test_a_receive_time_is_kept_to_the_microsecond(moment: datetime) -> None:
    body = points_record(b"k" * KEY_BYTES, "t", b"{}", moment, [], bookkeeping=[])
    assert decode_record(body).received_at == moment
    assert _micros(moment) == (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
