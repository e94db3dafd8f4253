"""A message that came with an authenticated sender (HTTP) is that sender's, as a topic's device level is."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from iot_suitcase.devices.decode import Decoder
from iot_suitcase.devices.errors import DecodeError, RejectCode
from iot_suitcase.devices.formats import Message
from iot_suitcase.devices.settings import DecodeSettings

DECODER = Decoder(DecodeSettings())
NOW = datetime.now(UTC)


@pytest.mark.parametrize(
    ("fmt", "payload"),
    [
        ("native", b'{"readings": {"temperature": 21.5}}'),
        ("senml", b'[{"n": "temperature", "u": "Cel", "v": 21.5}]'),
        ("sensor_community", b'{"sensordatavalues": [{"value_type": "temperature", "value": "21.5"}]}'),
    ],
)
def test_a_payload_without_a_device_is_the_senders(fmt: str, payload: bytes) -> None:
    outcome = DECODER.decode_message(Message(payload, NOW, sender="kit-1"), fmt)
    assert (outcome.device_id, [r.quantity for r in outcome.readings]) == ("kit-1", ["temperature"])


def test_a_payload_naming_another_device_is_refused() -> None:
    message = Message(b'{"device": "kit-2", "readings": {"temperature": 21.5}}', NOW, sender="kit-1")
    with pytest.raises(DecodeError) as refused:
        DECODER.decode_message(message, "native")
    assert refused.value.code == RejectCode.DEVICE_MISMATCH
