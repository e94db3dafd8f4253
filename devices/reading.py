"""The canonical reading: what every payload format and codec turns a message into."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, PlainSerializer

from iot_suitcase.devices.errors import DecodeError, RejectCode

# One rule for device ids, because every part of the platform carries them: registry entries, MQTT topic
# levels, Mosquitto's password file (``user:hash``, so no ':') and ACL patterns (``%u``), InfluxDB tags and
# URL paths. So: no '/', '+', '#', ':', spaces or control characters, nothing that needs escaping anywhere.
DEVICE_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
# The platform's own broker accounts and the ingest service's client ids begin with this; no device id may,
# so a device can never log in as, or take the MQTT session of, a service.
RESERVED_PREFIX = "suitcase-"
_DEVICE_ID = re.compile(DEVICE_ID_PATTERN)


def device_id_problem(device_id: str) -> str | None:
    """Why ``device_id`` is not a valid device id, or None if it is."""
    if not _DEVICE_ID.match(device_id):
        return (
            f"device id {device_id[:80]!r} is not valid: use 1-64 characters from A-Z a-z 0-9 . _ -, "
            "starting with a letter or digit"
        )
    if device_id.lower().startswith(RESERVED_PREFIX):
        return f"device id {device_id!r} is not valid: ids beginning with {RESERVED_PREFIX!r} are the platform's own"
    return None


def check_device_id(device_id: str) -> str:
    """Return ``device_id`` if it is valid, else raise ``invalid_device_id`` naming the rule.

    Every message's sender is checked at least twice; the ids found valid lately are remembered (at most
    ``_VALID_KEPT``, forgotten all at once beyond that, so made-up ids cost bounded memory)."""
    if device_id in _valid:
        return device_id
    problem = device_id_problem(device_id)
    if problem is not None:
        raise DecodeError(RejectCode.INVALID_DEVICE_ID, problem)
    if len(_valid) >= _VALID_KEPT:
        _valid.clear()
    _valid.add(device_id)
    return device_id


_VALID_KEPT = 10_000
_valid: set[str] = set()


def format_time(moment: datetime) -> str:
    """RFC 3339 in UTC with a 'Z', microseconds only when there are any."""
    text = moment.astimezone(UTC).isoformat()
    return text.removesuffix("+00:00") + "Z"


def _to_utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


DeviceId = Annotated[str, Field(pattern=DEVICE_ID_PATTERN)]  # the reserved prefix: check_device_id
UtcDatetime = Annotated[AwareDatetime, AfterValidator(_to_utc), PlainSerializer(format_time, return_type=str)]


class Reading(BaseModel):
    """One canonical reading: a catalog quantity's value in its canonical unit, at a UTC time."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    device_id: DeviceId
    time: UtcDatetime
    quantity: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    value: float
    unit: str

    def as_json(self) -> str:
        """One JSON Lines record: {"device_id", "time", "quantity", "value", "unit"}."""
        return self.model_dump_json()

    @classmethod
    def checked(cls, device_id: str, time: datetime, quantity: str, value: float, unit: str) -> Reading:
        """A reading from fields the caller has checked already (the decoder checks each against the catalog).

        What ``model_construct`` makes for this model (no aliases, defaults, extra or private attributes), at a
        quarter of its cost: it runs for every reading ingested. ``test_reading.py`` proves the two equal.
        """
        reading = _new(cls)
        _set(
            reading,
            "__dict__",
            {"device_id": device_id, "time": time, "quantity": quantity, "value": value, "unit": unit},
        )
        _set_fields_set(reading, set(_FIELDS))
        _set_extra(reading, None)
        _set_private(reading, None)
        return reading


_new = object.__new__
_set = object.__setattr__
# BaseModel's own slots, set through their descriptors (what object.__setattr__ would find, one lookup less)
_set_fields_set = BaseModel.__dict__["__pydantic_fields_set__"].__set__
_set_extra = BaseModel.__dict__["__pydantic_extra__"].__set__
_set_private = BaseModel.__dict__["__pydantic_private__"].__set__
_FIELDS = tuple(Reading.model_fields)


@dataclass(frozen=True, slots=True)
class RawReading:
    """A value as the device stated it: not yet converted, range-checked or timed."""

    quantity: str
    value: float
    unit: str | None = None
    time: datetime | None = None
    device: str | None = None  # the device it is from, when not the message's sender (a gateway's pack)
