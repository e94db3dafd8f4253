"""Random input on every format's topic: the service stores exactly what decodes and keeps a reject for the rest.

Runs the real intake of the pipeline (decode, validate, log record) against the real decoder, formats and
codecs; a decoder crash would show up as an "internal decoder error" reject, which must never happen.
"""

from __future__ import annotations

import base64
import json
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from iot_suitcase.devices.decode import Decoder
from iot_suitcase.devices.errors import DecodeError
from iot_suitcase.devices.formats import Message
from iot_suitcase.devices.settings import DecodeSettings
from iot_suitcase.ingest.config import IngestSettings
from iot_suitcase.ingest.pipeline import Pipeline
from iot_suitcase.ingest.sink.influx import V1Writer
from iot_suitcase.ingest.sink.rejects import RejectStore
from iot_suitcase.ingest.wal.log import WriteAheadLog
from iot_suitcase.ingest.wal.records import POINTS, REJECT, decode_record

EUI = "0102030405060708"
TOPICS = [
    "suitcase/dev-1/up",
    "suitcase/dev-1/senml",
    "suitcase/dev-1/airrohr",
    "suitcase/dev-1/temperature",
    f"application/app-1/device/{EUI}/event/up",
    "v3/app-1@ttn/devices/dev-1/up",
]
MODELS = {EUI: "elsys/ers-co2", "dev-1": "milesight-iot/am307"}

_scratch = tempfile.TemporaryDirectory(prefix="random-input-")  # removed when the test process ends
_directory = Path(_scratch.name)
(_directory / "models.toml").write_text("[models]\n" + "".join(f'"{k}" = "{v}"\n' for k, v in MODELS.items()))
OPTIONS = DecodeSettings(device_models_file=_directory / "models.toml")
DECODER = Decoder(OPTIONS)
PIPELINE = Pipeline(
    DECODER,
    V1Writer(IngestSettings()),
    WriteAheadLog(_directory / "wal"),
    RejectStore(_directory / "rejects.sqlite3"),
    batch_size=10,
    batch_interval_s=1,
    wal_max_bytes=1 << 20,
    remember_keys=10,
)

json_values = st.recursive(
    st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=10,
)
chirpstack_uplinks = st.binary(max_size=40).map(
    lambda data: json.dumps(
        {"deviceInfo": {"devEui": EUI, "applicationId": "app-1"}, "fPort": 5, "data": base64.b64encode(data).decode()}
    ).encode()
)
tts_uplinks = st.binary(max_size=40).map(
    lambda data: json.dumps(
        {
            "end_device_ids": {"device_id": "dev-1"},
            "uplink_message": {"f_port": 85, "frm_payload": base64.b64encode(data).decode()},
        }
    ).encode()
)
payloads = (
    st.binary(max_size=200)
    | json_values.map(lambda v: json.dumps(v).encode())
    | chirpstack_uplinks
    | tts_uplinks
    | st.sampled_from([b"21.5", b"nan", b"1e999", b"-0", b""])
)


@settings(max_examples=600, deadline=None)
@given(topic=st.sampled_from(TOPICS), payload=payloads)
def test_random_input_is_stored_only_if_it_decodes_and_kept_as_a_reject_otherwise(topic: str, payload: bytes) -> None:
    entry = PIPELINE.submit(topic, payload, mid=1, qos=1)
    assert entry.record is not None
    record = decode_record(entry.record)
    assert record.payload == payload, "the raw payload is kept"
    outcome: list[object] | DecodeError
    try:
        outcome = list(DECODER.decode(Message(payload=payload, received_at=record.received_at, topic=topic)))
    except DecodeError as error:
        outcome = error
    if isinstance(outcome, DecodeError):
        assert record.kind == REJECT
        assert record.reject is not None
        assert record.reject.code == outcome.code
        assert "internal decoder error" not in record.reject.reason
    else:
        assert record.kind == POINTS
        assert len(record.lines) == len(outcome)


def test_the_generators_reach_both_outcomes() -> None:
    stored = PIPELINE.submit("suitcase/dev-1/temperature", b"21.5", mid=2, qos=1).record
    rejected = PIPELINE.submit("suitcase/dev-1/up", b"\x00garbage", mid=3, qos=1).record
    assert stored is not None
    assert rejected is not None
    assert decode_record(stored).kind == POINTS
    assert decode_record(rejected).kind == REJECT
