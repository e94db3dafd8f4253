"""``Decoder.decode_plain`` (the ingest hot path) equals ``decode_message`` wherever it answers, and answers for
the commonest message; anything else it leaves to ``decode_message``, which reads it or says why not."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from iot_suitcase.devices.decode import Decoder, Outcome
from iot_suitcase.devices.errors import DecodeError
from iot_suitcase.devices.formats import Message
from iot_suitcase.devices.settings import DecodeSettings

DECODER = Decoder(DecodeSettings(max_payload_bytes=400))
NOW = datetime.now(UTC)
RECEIVED = NOW - timedelta(seconds=5)

topics = st.sampled_from(["suitcase/dev-1/up", "suitcase/dev-2/up"]) | st.sampled_from(
    [
        "suitcase/dev-1/up",
        "suitcase/dev-2/up",
        "suitcase/suitcase-ingest/up",  # the platform's own prefix: no device's
        "suitcase/-dev/up",
        "suitcase/dev-1/senml",
        "suitcase/dev-1/temperature",
        "suitcase/dev-1/up/more",
        "elsewhere/dev-1/up",
        "suitcase//up",
    ]
)
quantities = st.sampled_from(["temperature", "humidity", "co2"]) | st.sampled_from(
    ["Temperature", "temprature", "battery", ""]
)
numbers = (
    st.floats(allow_nan=False, allow_infinity=False, width=32)
    | st.integers(-100, 50_000)
    | st.sampled_from([21.5, 40.0, 612, -61.0, 100.0, 100.5, 1e308])
)
values = numbers | (
    st.booleans()
    | st.none()
    | st.text(max_size=4)
    | st.fixed_dictionaries({"value": numbers}, optional={"unit": st.sampled_from(["degC", "degF", "K", "x", None])})
    | st.lists(numbers, max_size=2)
)
times = st.sampled_from(
    [
        (NOW - timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        (NOW - timedelta(hours=1)).isoformat(),
        "2026-11-22T10:00:00",  # no offset
        "2026-13-01T00:00:00Z",
        "yesterday",
        "1999-12-31T23:59:59Z",
        (NOW + timedelta(days=30)).isoformat(),
        int((NOW - timedelta(days=1)).timestamp()),
        int((NOW - timedelta(days=1)).timestamp() * 1000),
        (NOW - timedelta(days=1)).timestamp(),
        -5,
        1e15,
        True,
        None,
    ]
)
bodies = st.fixed_dictionaries(
    {"readings": st.dictionaries(quantities, values, max_size=4)},
    optional={
        "time": times,
        "device": st.sampled_from(["dev-1", "dev-2", "suitcase-x", 5]),
        "extra": st.just(1),
    },
)


def _text(body: dict[str, object], layout: str) -> bytes:
    text = json.dumps(body, separators=(",", ":") if layout == "compact" else (", ", ": "))
    if layout == "repeated" and '"readings":{' in text.replace(" ", ""):
        text = text.replace('"readings": {', '"readings": {"co2": 1, "co2": 2, ', 1)
    if layout == "padded":
        text = f"  {text}\n"
    return text.encode()


near_plain = st.fixed_dictionaries(
    {"readings": st.dictionaries(st.sampled_from(["temperature", "humidity", "co2", "tvoc"]), numbers, max_size=3)},
    optional={"time": times.filter(lambda time: time is not True), "device": st.sampled_from(["dev-1", "dev-2"])},
)
layouts = st.sampled_from(["compact", "spaced", "repeated", "padded"])
payloads = st.one_of(
    st.builds(_text, near_plain, layouts), st.builds(_text, near_plain, layouts), st.builds(_text, bodies, layouts)
) | st.sampled_from(
    [
        b"",
        b" ",
        b"{",
        b"[]",
        b'{"readings":{"temperature":NaN}}',
        b"\xff{}",
        b'{"readings":{"co2":' + b"1" * 500 + b"}}",
        b'{"readings":{"co2":1e999}}',
        b'{"readings":{"co2":-1e999}}',
        b'{"readings":{"co2":' + b"9" * 320 + b"}}",
        b'{"readings":{"co2":400},"time":null,"device":null}',
        b'{"readings":{"co2":400},"time":true}',
        b'{"readings":{"co2":400},"time":[1]}',
        b'{"readings":{"co2":400},"device":"dev-1","device":"dev-2"}',
        b'{"readings":{"co2":400}}  ',
        b'{"readings":{"co2":400}} x',
        b'{"readings":{"co2":400},"readings":{"co2":500}}',
        b'{"readings":{"co2":"400"}}',
        b'{"readings":{"\\u0063o2":400}}',
        b'{"readings":{"co2":4.0e2}}',
        b'{"readings":null}',
        b'{"readings":{}}',
    ]
)


def _general(topic: str, payload: bytes) -> Outcome | str:
    try:
        return DECODER.decode_message(Message(payload=payload, received_at=RECEIVED, topic=topic))
    except DecodeError as error:
        return f"refused: {error.code}"


@settings(max_examples=1500)
@given(topics, payloads)
def test_the_plain_path_equals_the_general_one_wherever_it_answers(topic: str, payload: bytes) -> None:
    plain = DECODER.decode_plain(topic, payload, RECEIVED)
    if plain is not None:
        assert plain == _general(topic, payload)


plain_bodies = st.fixed_dictionaries(
    {
        "readings": st.dictionaries(
            st.sampled_from(["temperature", "humidity", "co2"]),
            st.floats(0, 100, allow_nan=False) | st.integers(0, 100),
            min_size=1,
        )
    },
    optional={
        "time": st.sampled_from(
            [
                (NOW - timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                int((NOW - timedelta(days=1)).timestamp()),
                int((NOW - timedelta(days=1)).timestamp() * 1000),
                None,
            ]
        ),
        "device": st.just("dev-1"),
    },
)


@given(plain_bodies, st.sampled_from(["compact", "spaced", "padded"]))
def test_the_commonest_message_takes_the_plain_path(body: dict[str, object], layout: str) -> None:
    payload = _text(body, layout)
    if layout == "padded":
        payload = payload.strip()  # the plain path wants the object first
    plain = DECODER.decode_plain("suitcase/dev-1/up", payload, RECEIVED)
    assert plain is not None
    assert plain == _general("suitcase/dev-1/up", payload)


def test_topics_remembered_stay_bounded() -> None:
    decoder = Decoder()
    for n in range(25_000):
        decoder.decode_plain(f"suitcase/dev-{n}/up", b'{"readings":{"co2":400}}', RECEIVED)
        assert len(decoder._plain_senders) <= 10_000
    assert decoder.decode_plain("suitcase/dev-1/up", b'{"readings":{"co2":400}}', RECEIVED) is not None
