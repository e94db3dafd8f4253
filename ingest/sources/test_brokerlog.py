"""Reading the broker's refusals from its log: Mosquitto 2's own lines, through rotation and truncation."""

from __future__ import annotations

from pathlib import Path

from iot_suitcase.ingest.sources.brokerlog import ACL_DENIED, NOT_AUTHORISED, BrokerLogFollower, BrokerRefusals

# lines as Mosquitto 2.0.11 wrote them here (log_type notice, information and debug)
REFUSED_LOGIN = [
    "2026-12-06T03:18:14: New connection from 10.0.0.7:57306 on port 1883.",
    "2026-12-06T03:18:14: Sending CONNACK to 10.0.0.7 (0, 5)",
    "2026-12-06T03:18:14: Client <unknown> disconnected, not authorised.",
]
DENIED = [
    "2026-12-06T03:18:14: New client connected from 127.0.0.1:57314 as dev-1 (p2, c1, k60, u'dev-1').",
    "2026-12-06T03:18:14: Denied PUBLISH from dev-1 (d0, q1, r0, m1, 'suitcase/dev-2/up', ... (1 bytes))",
    "2026-12-06T03:18:14: Sending PUBACK to dev-1 (m1, rc135)",
]
ACCEPTED = "2026-12-06T03:18:15: Received PUBLISH from dev-1 (d0, q1, r0, m2, 'suitcase/dev-1/up', ... (40 bytes))"


def test_refused_logins_and_denied_publications_are_recognised() -> None:
    refusals = BrokerRefusals()
    found = [refusals.read_line(line) for line in [*REFUSED_LOGIN, *DENIED, ACCEPTED]]
    login, denied = (f for f in found if f is not None)
    assert (login.kind, login.client, login.address) == (NOT_AUTHORISED, "-", "10.0.0.7")
    assert (denied.kind, denied.client, denied.topic) == (ACL_DENIED, "dev-1", "suitcase/dev-2/up")
    assert refusals.counts == {NOT_AUTHORISED: 1, ACL_DENIED: 1}
    assert refusals.of("dev-1") == [denied]
    assert "dev-1 may publish only under its own topics" in denied.what_to_do


def test_the_log_is_followed_through_rotation_truncation_and_half_written_lines(tmp_path: Path) -> None:
    path = tmp_path / "mosquitto.log"
    refusals = BrokerRefusals(kept=10)
    follower = BrokerLogFollower(path, refusals)
    assert follower.read_new() == 0, "no log yet: waited for"
    path.write_text("\n".join(REFUSED_LOGIN) + "\n" + DENIED[1][:30])
    assert follower.read_new() == 1
    with path.open("a") as log:
        log.write(DENIED[1][30:] + "\n")
    assert follower.read_new() == 1, "the line the broker was still writing, once whole"
    path.rename(tmp_path / "mosquitto.log.1")
    path.write_text("\n".join(DENIED) + "\n")
    assert follower.read_new() == 1, "a rotated log is read from its start"
    path.write_text("\n".join(REFUSED_LOGIN) + "\n")
    assert follower.read_new() == 1, "so is a truncated one"
    with path.open("a") as log:
        log.write("\n".join(DENIED * 20_000) + "\n")
    assert follower.read_new() == 20_000
    assert len(refusals.latest()) == 10, "samples stay bounded, whatever the broker writes"
    assert refusals.counts[ACL_DENIED] == 20_002


def test_at_start_only_the_end_of_a_long_log_is_read(tmp_path: Path) -> None:
    path = tmp_path / "mosquitto.log"
    path.write_text("\n".join(DENIED * 5000) + "\n")  # some 600 KB of old refusals
    follower = BrokerLogFollower(path, BrokerRefusals())
    found = follower.read_new()
    assert 0 < found < 1000, "the last moments before a restart, not the whole history"


def test_a_network_servers_denial_says_what_a_network_server_may_publish() -> None:
    line = "2026-12-06T03:18:14: Denied PUBLISH from suitcase-ns-city (d0, q1, r0, m1, 'v3/a/up', ... (9 bytes))"
    denied = BrokerRefusals().read_line(line)
    assert denied is not None
    assert denied.kind == ACL_DENIED
    assert "suitcase-ns-city is a network server's account" in denied.what_to_do
    assert "its own topics" not in denied.what_to_do


def test_each_scope_keeps_its_own_accounts_refusals_and_names_its_devices_by_id() -> None:
    """#18: the broker's log is the whole installation's; a tenant's service keeps only its own accounts'
    refusals (``kit-1@aarhus``, shown as ``kit-1``), the installation's only those of accounts without a tenant
    (and those the broker could not name), so no scope sees another's device ids."""
    lines = [
        *REFUSED_LOGIN,
        denial("kit-1@aarhus", "suitcase@odder/kit-1/up"),
        denial("kit-1@odder", "suitcase@aarhus/kit-1/up"),
        denial("suitcase-ns-city@aarhus", "x/y"),
        *DENIED,
    ]
    scopes = {scope: BrokerRefusals(tenant=scope) for scope in (None, "aarhus", "odder")}
    for line in lines:
        for refusals in scopes.values():
            refusals.read_line(line)
    aarhus = scopes["aarhus"].latest()
    assert [(r.client, r.topic) for r in aarhus] == [("suitcase-ns-city", "x/y"), ("kit-1", "suitcase@odder/kit-1/up")]
    assert scopes["aarhus"].of("kit-1") == [aarhus[1]]
    assert "network server" in aarhus[0].what_to_do
    assert [r.client for r in scopes["odder"].latest()] == ["kit-1"]
    assert [r.client for r in scopes[None].latest()] == ["dev-1", "-"]
    assert scopes[None].counts == {NOT_AUTHORISED: 1, ACL_DENIED: 1}
    assert scopes["aarhus"].counts == {ACL_DENIED: 2}


def denial(client: str, topic: str) -> str:
    return f"2026-12-06T03:18:16: Denied PUBLISH from {client} (d0, q1, r0, m1, '{topic}', ... (1 bytes))"
