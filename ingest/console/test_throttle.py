"""Login throttling per account name and per address, bounded whatever is sent."""

from __future__ import annotations

from iot_suitcase.ingest.console.throttle import LoginThrottle


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_name_waits_after_five_failures_until_the_oldest_leaves_the_window() -> None:
    clock = Clock()
    throttle = LoginThrottle(per_name=5, per_address=20, window_s=900, clock=clock)
    for n in range(5):
        assert throttle.wait_s("ida", f"10.0.0.{n}") == 0
        throttle.failed("ida", f"10.0.0.{n}")
        clock.now += 10
    assert throttle.wait_s("IDA", "10.0.0.99") == 900 - 50, "the name, from any address, in any case"
    assert throttle.wait_s("bo", "10.0.0.1") == 0, "other names are not held"
    clock.now += 900 - 50
    assert throttle.wait_s("ida", "10.0.0.99") == 0


def test_an_address_waits_after_twenty_failures_whatever_names_it_tries() -> None:
    clock = Clock()
    throttle = LoginThrottle(per_name=5, per_address=20, window_s=900, clock=clock)
    for n in range(20):
        throttle.failed(f"name-{n}", "192.0.2.7")
    assert throttle.wait_s("someone-new", "192.0.2.7") > 0
    assert throttle.wait_s("someone-new", "192.0.2.8") == 0


def test_a_right_password_clears_the_name_and_memory_stays_bounded() -> None:
    clock = Clock()
    throttle = LoginThrottle(per_name=2, per_address=1000, window_s=900, max_keys=50, clock=clock)
    throttle.failed("ida", "a")
    throttle.succeeded("ida")
    throttle.failed("ida", "a")
    assert throttle.wait_s("ida", "a") == 0
    for n in range(10_000):
        throttle.failed(f"made-up-{n}", "b")
    assert len(throttle._failures) <= 50
    assert throttle.wait_s("x", "b") > 0, "the address that sent them is still held"
