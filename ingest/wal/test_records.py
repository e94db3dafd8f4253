"""Record keys stay what earlier versions wrote: the log of a running service is recovered by the next one."""

from __future__ import annotations

from hashlib import blake2b

from hypothesis import given
from hypothesis import strategies as st

from iot_suitcase.ingest.wal.records import KEY_BYTES, message_key


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
