"""Why a message was not stored: one specific, stable code per cause, plus a human reason."""

from __future__ import annotations

from enum import StrEnum


class RejectCode(StrEnum):
    """Stable reject codes: they appear in CLI output, logs, the rejects store and metrics."""

    EMPTY_PAYLOAD = "empty_payload"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    NOT_UTF8 = "not_utf8"
    MALFORMED_JSON = "malformed_json"
    WRONG_TYPE = "wrong_type"
    NOT_FINITE = "not_finite"
    MISSING_FIELD = "missing_field"
    UNKNOWN_FIELD = "unknown_field"
    NO_READINGS = "no_readings"
    DUPLICATE_READING = "duplicate_reading"
    UNKNOWN_QUANTITY = "unknown_quantity"
    UNKNOWN_UNIT = "unknown_unit"
    OUT_OF_RANGE = "out_of_range"
    BAD_TIME = "bad_time"
    TIME_IN_FUTURE = "time_in_future"
    INVALID_DEVICE_ID = "invalid_device_id"
    DEVICE_MISMATCH = "device_mismatch"
    MISSING_DEVICE = "missing_device"
    UNKNOWN_DEVICE = "unknown_device"
    UNKNOWN_TOPIC = "unknown_topic"
    UNKNOWN_FORMAT = "unknown_format"
    UNSUPPORTED_VERSION = "unsupported_version"
    NO_CODEC = "no_codec"
    CODEC_ERROR = "codec_error"
    UNWRITABLE = "unwritable"


class DecodeError(Exception):
    """A message that cannot become canonical readings; never a crash, always a reject with a reason."""

    def __init__(self, code: RejectCode, reason: str, *, device_id: str | None = None) -> None:
        super().__init__(f"{code}: {reason}")
        self.code = code
        self.reason = reason
        self.device_id = device_id

    def as_dict(self) -> dict[str, str]:
        """The JSON shape that `suitcase decode` prints for a rejected payload."""
        return {"error": str(self.code), "reason": self.reason}
