"""Which broker redeliveries repeat a message the log already holds, and which only look like one.

The broker redelivers an unacknowledged QoS 1 message with the DUP flag and its packet id, so a DUP message
whose (topic, payload, packet id) matches a logged one is a repeat. But a packet id is free again once the
broker has processed the acknowledgement, and a broker that crashed and restored an older snapshot hands
out packet ids it had used already: a new message with the same topic and payload then carries a logged
message's key. So a logged message stays *eligible* (recognised as a redelivery) only while the broker may
not yet have processed its acknowledgement:

- after a group's acks are sent, the service sends a PINGREQ; the PINGRESP proves the broker processed
  every ack before it (one connection is processed in order), and those messages stop being eligible;
- after a reconnect the broker first resends every unacknowledged message; the first message without DUP
  ends that, and messages of earlier connections stop being eligible;
- a resend is itself unacknowledged until its own ack is confirmed: a message the broker resent on this
  connection stays eligible until a PINGRESP confirms the ack sent for the resend (a kill before the
  broker processed that ack brings one more resend, on the next connection or after a restart);
- a packet id is free again only once the broker has processed the ack of the message that had it (MQTT v5
  2.2.1): a message with the same packet id and another key proves that the earlier one's ack was processed,
  so the earlier one stops being eligible at once. This bounds the eligible keys to the 65,535 packet ids of
  the session even when no PINGRESP comes: Mosquitto answers a PINGREQ only after the session's whole queue,
  so a drain of a million queued messages kept every key until it ended (measured: 940,000). Receive Maximum
  would bound them more tightly, but Mosquitto 2.0.11 does not keep to it for a queue it sends after a
  reconnect (measured: 1,204 unacknowledged with 50 allowed), so it proves nothing here;
- the log notes all this (``MARK`` records), so after a restart only messages logged after the last mark are.

A DUP message that matches a message that is no longer eligible is stored again (at-least-once) and
counted as a possible duplicate: the protocol cannot tell. A message is never dropped on a guess.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from iot_suitcase.ingest.wal.log import Logged, Position


class Verdict(Enum):
    NEW = "new"
    REDELIVERY = "redelivery"  # a repeat of a logged message: acknowledge, do not store again
    POSSIBLE_DUPLICATE = "possible_duplicate"  # store it, count it


@dataclass(slots=True)
class _Group:
    start: Position
    end: Position
    generation: int  # the newest connection generation among its messages and their resends
    keys: list[bytes]
    acked_at: Position  # the log's end when the last ack for one of its messages went out
    open: int = 0  # resends of its messages whose ack has not gone out yet
    left: int = 0  # of its keys, those still eligible as its own: at 0 it is done, wherever it is in the log
    done: bool = False


class Redeliveries:
    """The eligible keys in log order, what the broker has confirmed, and the marks the log still needs."""

    def __init__(self, recent_limit: int) -> None:
        self._eligible: dict[bytes, _Group | None] = {}  # key -> its group in the log (None: not logged yet)
        self._by_packet_id: dict[int, bytes] = {}  # packet id -> the key of the last message that had it
        self._open_unlogged: dict[bytes, int] = {}  # resends of messages not logged yet, awaiting their ack
        self._groups: deque[_Group] = deque()
        self._recent: OrderedDict[bytes, None] = OrderedDict()  # no longer eligible, for counting only
        self._recent_limit = recent_limit
        self._acked: Position | None = None  # acks sent for records up to here, not yet covered by a ping
        self._ping: Position | None = None  # our PINGREQ is out for acks up to here
        self._prefix_open: set[int] = set()  # connections still in their redelivery prefix
        self.mark_due: Position | None = None  # a mark the log should write
        self.released = Position(0, 0)  # records before this need no recognition (their segments may go)

    def recover(self, records: list[Logged], mark: Position | None) -> None:
        """After a restart: messages logged after the last mark are eligible, the others recent."""
        boundary = mark or Position(0, 0)
        start = boundary
        for record in records:
            if record.end <= boundary:
                self._forget(record.key)
            else:
                group = _Group(start, record.end, 0, [record.key], record.end)
                self._eligible[record.key] = group
                self._groups.append(group)
            start = max(start, record.end)
        self.released = self._groups[0].start if self._groups else start

    def __len__(self) -> int:
        return len(self._eligible)

    # --- intake -----------------------------------------------------------------------------------------
    def classify(self, key: bytes, dup: bool) -> Verdict:
        if not dup:
            return Verdict.NEW
        if key in self._eligible:
            return Verdict.REDELIVERY
        if key in self._recent:
            return Verdict.POSSIBLE_DUPLICATE
        return Verdict.NEW  # sent before a crash but never logged: this is the first copy the log sees

    def accepted(self, key: bytes, mid: int) -> None:
        """A message taken in over a connection (QoS 1 or 2) with packet id ``mid``: eligible from now until
        confirmed. The message that had its packet id before, if another, is confirmed by it."""
        eligible = self._eligible
        earlier = eligible.get(key)
        if earlier is not None:  # a later message with the same key takes its place
            self._settle(earlier)
        eligible[key] = None
        had = self._by_packet_id.get(mid)
        self._by_packet_id[mid] = key
        if had is not None and had != key and had in eligible:
            group = eligible.pop(had)
            self._forget(had)
            if group is not None:
                self._settle(group)

    def redelivered(self, key: bytes, generation: int) -> None:
        """A recognised resend on ``generation``: its message stays eligible until the resend's ack is confirmed."""
        group = self._eligible.get(key)
        if group is None:
            self._open_unlogged[key] = self._open_unlogged.get(key, 0) + 1
        else:
            group.open += 1
            group.generation = max(group.generation, generation)

    def resend_acked(self, key: bytes, at: Position) -> None:
        """The ack for a resend went out (or was dropped with its connection) when the log ended at ``at``."""
        group = self._eligible.get(key)
        if group is not None and group.open:
            group.open -= 1
            group.acked_at = max(group.acked_at, at)

    def arrived(self, generation: int, dup: bool) -> None:
        """Every message from the broker: the first without DUP ends its connection's redelivery prefix."""
        if not dup and generation in self._prefix_open:
            self._prefix_open.discard(generation)
            self._expire(lambda group: not group.open and group.generation < generation)

    def connected(self, generation: int) -> None:
        """A new connection: a ping of the old one will never be answered."""
        self._prefix_open = {generation}
        self._ping = None
        self._acked = None

    # --- committer --------------------------------------------------------------------------------------
    def logged(self, start: Position, end: Position, keys: list[tuple[bytes, int]]) -> None:
        """A group of messages from the broker is in the log between ``start`` and ``end``."""
        if keys:
            group = _Group(start, end, max(g for _k, g in keys), [k for k, _g in keys], end)
            for key, _generation in keys:
                if key in self._eligible:
                    self._eligible[key] = group
                    group.left += 1
                group.open += self._open_unlogged.pop(key, 0)
            self._groups.append(group)
            if not group.left:  # every message of it confirmed before it was logged
                self._settle(group, 0)
        elif not self._groups:
            self.released = end

    def acks_sent(self, end: Position) -> Position | None:
        """Acks went out for every record before ``end``. Returns the position to send a PINGREQ for now,
        or None while one is out (the next goes when it is answered)."""
        if self._ping is not None:
            self._acked = end
            return None
        self._ping = end
        return end

    def pong(self, through: Position) -> Position | None:
        """The broker answered the PINGREQ sent after the acks before ``through``: the broker processed
        them. Returns the position to send the next PINGREQ for, if acks went out since."""
        self._expire(lambda group: not group.open and group.acked_at <= through)
        self._ping, self._acked = self._acked, None
        return self._ping

    def mark_written(self, position: Position) -> None:
        if self.mark_due is not None and self.mark_due <= position:
            self.mark_due = None

    def _settle(self, group: _Group, confirmed: int = 1) -> None:
        """``confirmed`` of the group's messages are no longer eligible; when none is left, the group is done,
        and marks and releases go as far as done groups reach from the first."""
        group.left -= confirmed
        if group.left <= 0 and not group.done:
            group.done = True
            group.keys = []
            if self._groups and self._groups[0].done:
                self._expire(lambda _group: False)

    def _expire(self, done: Callable[[_Group], bool]) -> None:
        last = None
        while self._groups and (self._groups[0].done or done(self._groups[0])):
            group = self._groups.popleft()
            for key in group.keys:
                if self._eligible.get(key) is group:  # not a later message that carries the same key
                    del self._eligible[key]
                    self._forget(key)
            group.done = True
            last = group.end
        if last is not None:
            self.mark_due = max(self.mark_due or last, last)
            self.released = self._groups[0].start if self._groups else last

    def _forget(self, key: bytes) -> None:
        self._recent[key] = None
        if len(self._recent) > self._recent_limit:
            self._recent.popitem(last=False)
