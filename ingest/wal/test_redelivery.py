"""The redelivery rule (#13 point 3): recognise a repeat only while the broker may not have processed the ack."""

from __future__ import annotations

from ingest.wal.log import Logged, Position
from ingest.wal.redelivery import Redeliveries, Verdict


def at(offset: int) -> Position:
    return Position(1, offset)


def test_a_repeat_is_recognised_until_a_pingresp_confirms_the_ack() -> None:
    seen = Redeliveries(recent_limit=10)
    seen.connected(1)
    seen.arrived(1, dup=False)
    seen.accepted(b"k1", 1)
    seen.logged(at(0), at(10), [(b"k1", 1)])
    assert seen.classify(b"k1", dup=True) is Verdict.REDELIVERY
    assert seen.classify(b"k1", dup=False) is Verdict.NEW, "without DUP it is never a repeat"
    ping = seen.acks_sent(at(10))
    assert ping == at(10)
    assert seen.pong(ping) is None
    assert seen.classify(b"k1", dup=True) is Verdict.POSSIBLE_DUPLICATE, "stored and counted, never dropped"
    assert seen.mark_due == at(10)
    assert seen.released == at(10)


def test_one_ping_at_a_time_and_the_next_covers_what_was_acked_meanwhile() -> None:
    seen = Redeliveries(recent_limit=10)
    seen.connected(1)
    for n, key in enumerate((b"a", b"b", b"c")):
        seen.accepted(key, 1)
        seen.logged(at(n * 10), at(n * 10 + 10), [(key, 1)])
    assert seen.acks_sent(at(10)) == at(10)
    assert seen.acks_sent(at(20)) is None
    assert seen.acks_sent(at(30)) is None
    assert seen.pong(at(10)) == at(30), "acks went out meanwhile: ping again for all of them"
    assert seen.classify(b"b", dup=True) is Verdict.REDELIVERY
    assert seen.pong(at(30)) is None
    assert len(seen) == 0


def test_a_new_connection_ends_the_recognition_of_older_ones_at_its_first_new_message() -> None:
    seen = Redeliveries(recent_limit=10)
    seen.connected(1)
    seen.accepted(b"old", 1)
    seen.logged(at(0), at(10), [(b"old", 1)])
    seen.acks_sent(at(10))  # the connection drops before the PINGRESP
    seen.connected(2)
    seen.arrived(2, dup=True)
    assert seen.classify(b"old", dup=True) is Verdict.REDELIVERY, "the broker's resend after a reconnect"
    seen.arrived(2, dup=False)  # the resends are over
    assert seen.classify(b"old", dup=True) is Verdict.POSSIBLE_DUPLICATE


def test_after_a_restart_only_messages_after_the_last_mark_are_recognised() -> None:
    seen = Redeliveries(recent_limit=10)
    seen.recover([Logged(b"before", at(10)), Logged(b"after", at(20))], mark=at(10))
    assert seen.classify(b"after", dup=True) is Verdict.REDELIVERY
    assert seen.classify(b"before", dup=True) is Verdict.POSSIBLE_DUPLICATE
    assert seen.released == at(10)


def test_memory_of_confirmed_keys_is_bounded() -> None:
    seen = Redeliveries(recent_limit=3)
    seen.connected(1)
    for n in range(10):
        key = bytes([n])
        seen.accepted(key, 1)
        seen.logged(at(n), at(n + 1), [(key, 1)])
    seen.acks_sent(at(10))
    seen.pong(at(10))
    assert [seen.classify(bytes([n]), dup=True) for n in (0, 9)] == [Verdict.NEW, Verdict.POSSIBLE_DUPLICATE]
