"""The redelivery rule (#13 point 3): recognise a repeat only while the broker may not have processed the ack."""

from __future__ import annotations

from iot_suitcase.ingest.wal.log import Logged, Position
from iot_suitcase.ingest.wal.redelivery import Redeliveries, Verdict


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
        seen.accepted(key, n + 1)
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
    seen.accepted(b"acked", 1)
    seen.logged(at(0), at(10), [(b"acked", 1)])
    seen.accepted(b"old", 2)
    seen.logged(at(10), at(20), [(b"old", 1)])
    seen.acks_sent(at(20))  # the connection drops before the PINGRESP
    seen.connected(2)
    seen.arrived(2, dup=True)
    assert seen.classify(b"old", dup=True) is Verdict.REDELIVERY, "the broker's resend after a reconnect"
    seen.redelivered(b"old", 2)
    seen.arrived(2, dup=False)  # the resends are over: the broker had processed the ack of "acked"
    assert seen.classify(b"acked", dup=True) is Verdict.POSSIBLE_DUPLICATE
    assert seen.classify(b"old", dup=True) is Verdict.REDELIVERY, "its resend's ack is not confirmed yet"
    assert seen.mark_due == at(10)
    seen.resend_acked(b"old", at(20))
    assert seen.acks_sent(at(20)) == at(20)
    seen.pong(at(20))
    assert seen.classify(b"old", dup=True) is Verdict.POSSIBLE_DUPLICATE


def test_a_resend_after_a_restart_stays_recognised_until_its_own_ack_is_confirmed() -> None:
    seen = Redeliveries(recent_limit=10)
    seen.recover([Logged(b"logged", at(10))], mark=None)
    seen.connected(1)
    seen.arrived(1, dup=True)
    assert seen.classify(b"logged", dup=True) is Verdict.REDELIVERY
    seen.redelivered(b"logged", 1)
    seen.arrived(1, dup=False)  # new messages follow the resends
    assert seen.mark_due is None, "a mark now would end the recognition of a resend whose ack may be lost"
    seen.accepted(b"new", 2)
    seen.logged(at(10), at(20), [(b"new", 1)])
    seen.resend_acked(b"logged", at(20))
    ping = seen.acks_sent(at(20))
    assert ping is not None
    seen.pong(ping)
    assert seen.classify(b"logged", dup=True) is Verdict.POSSIBLE_DUPLICATE
    assert seen.mark_due == at(20)


def test_a_pingresp_for_earlier_acks_does_not_confirm_a_resend_still_waiting_for_its_ack() -> None:
    seen = Redeliveries(recent_limit=10)
    seen.connected(1)
    seen.accepted(b"m", 1)
    seen.logged(at(0), at(10), [(b"m", 1)])
    seen.connected(2)  # the ack of "m" was dropped with connection 1
    seen.arrived(2, dup=True)
    seen.redelivered(b"m", 2)
    seen.accepted(b"other", 2)
    seen.logged(at(10), at(20), [(b"other", 2)])
    assert seen.acks_sent(at(20)) == at(20)
    seen.pong(at(20))  # answers acks sent before the resend of "m" was acknowledged
    assert seen.classify(b"m", dup=True) is Verdict.REDELIVERY


def test_a_later_message_with_the_same_key_stays_eligible_when_the_earlier_one_is_confirmed() -> None:
    seen = Redeliveries(recent_limit=10)
    seen.connected(1)
    seen.accepted(b"same", 7)
    seen.logged(at(0), at(10), [(b"same", 1)])
    ping = seen.acks_sent(at(10))
    seen.accepted(b"same", 7)  # the packet id came round again with the same topic and payload
    seen.logged(at(10), at(20), [(b"same", 1)])
    assert ping is not None
    seen.pong(ping)
    assert seen.classify(b"same", dup=True) is Verdict.REDELIVERY


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
        seen.accepted(key, n + 1)
        seen.logged(at(n), at(n + 1), [(key, 1)])
    seen.acks_sent(at(10))
    seen.pong(at(10))
    assert [seen.classify(bytes([n]), dup=True) for n in (0, 9)] == [Verdict.NEW, Verdict.POSSIBLE_DUPLICATE]


# --- a packet id given to another message proves the ack of the message that had it was processed ---


def test_a_new_message_with_the_packet_id_of_a_logged_one_confirms_it() -> None:
    seen = Redeliveries(recent_limit=10)
    seen.connected(1)
    seen.accepted(b"first", 1)
    seen.logged(at(0), at(10), [(b"first", 1)])
    seen.acks_sent(at(10))  # no PINGRESP comes (Mosquitto sends it after the whole queue)
    seen.accepted(b"second", 1)  # the broker gave packet id 1 to another message: it processed the first's ack
    assert seen.classify(b"first", dup=True) is Verdict.POSSIBLE_DUPLICATE
    assert seen.classify(b"second", dup=True) is Verdict.REDELIVERY
    assert seen.mark_due == at(10)
    assert seen.released == at(10)


def test_a_new_message_with_the_same_key_takes_the_place_of_the_logged_one() -> None:
    seen = Redeliveries(recent_limit=10)
    seen.connected(1)
    seen.accepted(b"same", 1)
    seen.logged(at(0), at(10), [(b"same", 1)])
    seen.accepted(b"same", 1)  # not recognised as a resend (no DUP): a new message, so packet id 1 was free
    assert seen.classify(b"same", dup=True) is Verdict.REDELIVERY, "the new one is eligible"
    assert seen.mark_due == at(10), "the logged one is not"


def test_a_message_confirmed_before_it_is_logged_is_not_eligible_after() -> None:
    seen = Redeliveries(recent_limit=10)
    seen.connected(1)
    seen.accepted(b"a", 1)
    seen.accepted(b"b", 1)
    seen.logged(at(0), at(10), [(b"a", 1), (b"b", 1)])
    assert seen.classify(b"a", dup=True) is Verdict.POSSIBLE_DUPLICATE
    assert seen.classify(b"b", dup=True) is Verdict.REDELIVERY
    assert seen.mark_due is None
    seen.accepted(b"c", 1)
    assert len(seen) == 1
    assert seen.mark_due == at(10), "the group is done (c is not logged yet)"


def test_a_drain_without_any_pingresp_keeps_at_most_one_key_per_packet_id() -> None:
    seen = Redeliveries(recent_limit=1000)
    seen.connected(1)
    keys = [n.to_bytes(4, "little") for n in range(200_000)]
    for start in range(0, len(keys), 100):
        group = [(key, 1) for key in keys[start : start + 100]]
        for n, (key, _generation) in enumerate(group, start):
            seen.arrived(1, dup=True)  # queued before the connection: DUP set, so the prefix never ends
            seen.accepted(key, n % 65_535 + 1)  # packet ids in turn, as Mosquitto gives them
        seen.logged(at(start), at(start + 100), group)
        seen.acks_sent(at(start + 100))
        assert len(seen) <= 65_535
    assert len(seen) == 65_535
    assert seen.classify(keys[-65_535], dup=True) is Verdict.REDELIVERY
    assert seen.classify(keys[-65_536], dup=True) is Verdict.POSSIBLE_DUPLICATE
    assert seen.released == at(200_000 - 65_600), "the log may let go of all but the last packet ids' groups"


def test_a_recovered_message_before_confirmed_ones_keeps_the_mark_where_it_is() -> None:
    seen = Redeliveries(recent_limit=10)
    seen.recover([Logged(b"before the restart", at(10))], mark=None)
    seen.connected(1)
    seen.arrived(1, dup=True)
    seen.accepted(b"a", 1)
    seen.logged(at(10), at(20), [(b"a", 1)])
    seen.accepted(b"b", 1)
    assert seen.classify(b"a", dup=True) is Verdict.POSSIBLE_DUPLICATE
    assert seen.classify(b"before the restart", dup=True) is Verdict.REDELIVERY, "its packet id is not known"
    assert seen.mark_due is None, "a mark would end its recognition after another restart"
    seen.arrived(1, dup=False)  # the resends are over
    assert seen.mark_due == at(20), "past the group confirmed meanwhile"
