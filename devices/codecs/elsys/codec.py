"""Elsys fields -> catalog quantities, and back (for simulators).

The payload format (payload.py) is the same for every model; what differs per model is the meaning of a
few generic inputs (on the EMS and EMS Door, pulse input 1 is the door switch). Fields without a catalog
quantity are read and dropped; the README lists them and why.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from iot_suitcase.devices.codecs.base import CodecError, DeviceModel, load_models
from iot_suitcase.devices.codecs.elsys.payload import TYPES, Record, build, parse
from iot_suitcase.devices.reading import RawReading

VENDOR = "elsys"
MAX_FPORT = 223  # 224 is the LoRaWAN test port, 225..255 are reserved, 0 carries MAC commands only

# Occupancy states of ERS Eye / EMS Desk. "Pending" is someone entering or leaving: a person is there, so the
# place is occupied at that moment (the catalog's occupancy is 0 free, 1 occupied).
OCCUPANCY_FREE, OCCUPANCY_PENDING, OCCUPANCY_OCCUPIED = 0, 1, 2
WATERLEAK_FULL_SCALE = 255


def _same(value: float) -> float:
    return value


def _occupancy(raw: float) -> float | None:
    if raw in (OCCUPANCY_PENDING, OCCUPANCY_OCCUPIED):
        return 1.0
    if raw == OCCUPANCY_FREE:
        return 0.0
    raise ValueError(f"state {raw:g} is undefined (0 unoccupied, 1 pending, 2 occupied)")


def _occupancy_raw(value: float) -> float:
    if value not in (0, 1):
        raise ValueError(f"{value:g} is neither 0 (free) nor 1 (occupied)")
    return OCCUPANCY_OCCUPIED if value == 1 else OCCUPANCY_FREE


@dataclass(frozen=True, slots=True)
class FieldMap:
    """How one Elsys field becomes a catalog quantity: ``to_value`` may return None (no reading)."""

    quantity: str
    unit: str
    to_value: Callable[[float], float | None] = _same
    to_raw: Callable[[float], float] = _same


FIELDS: dict[str, FieldMap] = {
    "temperature": FieldMap("temperature", "degC"),
    "humidity": FieldMap("humidity", "%"),
    "light": FieldMap("illuminance", "lux"),
    "motion": FieldMap("motion", "count"),
    "co2": FieldMap("co2", "ppm"),
    "vdd": FieldMap("battery_voltage", "mV"),
    "distance": FieldMap("distance", "mm"),
    "occupancy": FieldMap("occupancy", "count", _occupancy, _occupancy_raw),
    "waterleak": FieldMap(
        "water_leak_level",
        "%",
        lambda raw: raw * 100 / WATERLEAK_FULL_SCALE,
        lambda percent: percent * WATERLEAK_FULL_SCALE / 100,
    ),
    "pressure": FieldMap("pressure", "hPa"),
    "sound_peak": FieldMap("noise_lamax", "dB(A)"),
    "sound_avg": FieldMap("noise_laeq", "dB(A)"),
    "tvoc": FieldMap("tvoc", "ppb"),
    # a temperature probe is a temperature whatever it is fixed to (a pipe, the ground, a wall)
    "external_temperature": FieldMap("external_temperature", "degC"),
}

# Generic inputs whose meaning is fixed by the model's hardware.
DOOR_SWITCH = {
    "pulse1": FieldMap("door_openings", "count"),
    "pulse1_abs": FieldMap("door_openings_total", "count"),
}
MODEL_FIELDS: dict[str, dict[str, FieldMap]] = {
    "elsys/ems": DOOR_SWITCH,
    "elsys/ems-door": DOOR_SWITCH,
}


class ElsysCodec:
    """One codec for every Elsys model: the generic payload, mapped per model."""

    vendor = VENDOR

    def __init__(self) -> None:
        self.models: Mapping[str, DeviceModel] = load_models(__package__ or "iot_suitcase.devices.codecs.elsys")
        for model in self.models.values():
            reachable = {field.quantity for field in self._fields(model.id).values()}
            unreachable = set(model.quantities) - reachable
            if unreachable:
                raise ValueError(f"{model.id}: models.toml lists quantities no field maps to: {sorted(unreachable)}")

    def decode(self, model: str, fport: int, payload: bytes) -> list[RawReading]:
        fields = self._fields(self._check(model, fport))
        readings: dict[str, RawReading] = {}
        for record in parse(payload):
            for name, raw in record.values.items():
                field = fields.get(name)
                if field is None:
                    continue
                value = self._value(field, name, raw, record)
                if value is not None:
                    # A type repeated in one uplink: the last value wins, as in the vendor's decoder.
                    readings[field.quantity] = RawReading(field.quantity, value, field.unit)
        return list(readings.values())

    def encode(self, model: str, fport: int, values: Mapping[str, float]) -> bytes:
        model_id = self._check(model, fport)
        if not values:
            raise CodecError("elsys: nothing to encode")
        supported = self.models[model_id].quantities
        unsupported = sorted(set(values) - set(supported))
        if unsupported:
            raise CodecError(f"elsys: {model_id} does not report {unsupported}; it reports {list(supported)}")
        fields = self._fields(model_id)
        records = []
        for code, record_type in sorted(TYPES.items()):
            mapped = {name: fields[name] for name in record_type.fields if name in fields}
            if not any(field.quantity in values for field in mapped.values()):
                continue
            raw: dict[str, float] = {}
            for name, field in mapped.items():
                if field.quantity not in values:
                    raise CodecError(f"elsys: {record_type.label} also carries {field.quantity!r}; give it a value too")
                try:
                    raw[name] = field.to_raw(values[field.quantity])
                except ValueError as error:
                    raise CodecError(f"elsys: {field.quantity}: {error}") from None
            records.append((code, raw))
        return build(records)

    def _check(self, model: str, fport: int) -> str:
        if model not in self.models:
            raise CodecError(f"elsys: unknown model {model!r}; known: {', '.join(sorted(self.models))}")
        if not 1 <= fport <= MAX_FPORT:
            raise CodecError(f"elsys: fport {fport} carries no application data (expected 1..{MAX_FPORT})")
        return model

    @staticmethod
    def _fields(model: str) -> dict[str, FieldMap]:
        return {**FIELDS, **MODEL_FIELDS.get(model, {})}

    @staticmethod
    def _value(field: FieldMap, name: str, raw: float, record: Record) -> float | None:
        try:
            return field.to_value(raw)
        except ValueError as error:
            raise CodecError(f"elsys: {record.type.label} at offset {record.offset}: {name} {error}") from None
