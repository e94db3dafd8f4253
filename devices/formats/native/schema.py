"""The native JSON payload of iot-suitcase devices, as a pydantic model (and so as a JSON Schema)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from iot_suitcase.devices.reading import DEVICE_ID_PATTERN

EXAMPLES: list[JsonValue] = [
    {"readings": {"temperature": 21.5, "humidity": 40}},
    {
        "time": "2026-11-01T10:15:00Z",
        "readings": {"co2": 612, "temperature": {"value": 70.7, "unit": "degF"}},
    },
    {"device": "bin-0042", "time": 1793520900, "readings": {"fill_level": 73, "battery": 88}},
]


class ValueWithUnit(BaseModel):
    """A reading in a unit other than the catalog's canonical one (it is converted on ingest)."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)

    value: float = Field(description="The measured value, a JSON number.")
    unit: str | None = Field(
        default=None,
        description="Unit of the value, e.g. degF, Pa, mV; omitted means the catalog's canonical unit.",
    )


Timestamp = Annotated[
    str | int | float,
    Field(
        description="When the values were measured: RFC 3339 with Z or an offset, or epoch seconds or "
        "milliseconds. Omitted: the time the platform received the message.",
    ),
]


class NativePayload(BaseModel):
    """One message of a native device: several readings at one time. The device id comes from the topic."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        allow_inf_nan=False,
        title="iot-suitcase native payload",
        json_schema_extra={"examples": EXAMPLES},
    )

    device: str | None = Field(
        default=None,
        pattern=DEVICE_ID_PATTERN,
        description="Optional; when present it must equal the device id of the topic.",
    )
    time: Timestamp | None = None
    readings: dict[str, float | ValueWithUnit] = Field(
        min_length=1,
        description="Quantity name (see `suitcase catalog`) to a number in the canonical unit, or to "
        '{"value": number, "unit": "..."}.',
    )
