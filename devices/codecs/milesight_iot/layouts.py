"""Per model: the channels it sends and what each means in catalog terms.

Channel ids are reused with different meanings across Milesight models (0x05 0x00 is a PIR state on the
AM307 and a tilt flag on the EM400-UDL), so every model has its own table. A pair that is not in a model's
table is read past when its channel type tells its size (``SIZE_OF_TYPE``: the same size in every table),
and counted; otherwise nothing after it can be read, and it is an error.
"""

from __future__ import annotations

from collections.abc import Mapping

from iot_suitcase.devices.codecs.base import CodecError
from iot_suitcase.devices.codecs.milesight_iot import channels as ch
from iot_suitcase.devices.codecs.milesight_iot.slots import Field, Slot

# The AM319 reports ozone in ppm; the catalog stores ug/m3 as EU air-quality reporting does, which fixes
# the reference state for gases at 293 K and 101.3 kPa (Directive 2008/50/EC, Annex VI):
# ug/m3 = ppm * M * p / (R * T).
_O3_MOLAR_MASS = 47.997  # g/mol
_GAS_CONSTANT = 8.314462618  # J/(mol K)
O3_UG_M3_PER_PPM = _O3_MOLAR_MASS * 101_300 / (_GAS_CONSTANT * 293)

_A_WEIGHTING = 1
_FAST = 1
_RESERVED = 3


def a_weighted(values: Mapping[str, float]) -> bool:
    """Whether a WS302 sound record is A-weighted (only those are dB(A) levels); reject reserved codes."""
    weighting = int(values["weighting"])
    frequency, time = weighting & 0x03, (weighting >> 2) & 0x03
    if _RESERVED in (frequency, time):
        raise CodecError(
            f"milesight: sound weighting byte 0x{weighting:02x} uses a reserved "
            f"{'frequency' if frequency == _RESERVED else 'time'} weighting code 3"
        )
    return frequency == _A_WEIGHTING


def _a_weighted_fast(values: Mapping[str, float]) -> dict[str, float]:
    """Encode: the WS302's usual setting, with the momentary level set to the Leq."""
    return {"weighting": _A_WEIGHTING | _FAST << 2, "level": values["leq"]}


def _periodic(channel: ch.Channel, quantity: str, unit: str | None, factor: float = 1.0) -> Slot:
    return Slot(channel, (Field(channel.values[0].name, quantity, unit, factor),), encodes=True)


def _history(channel: ch.Channel, *fields: Field) -> Slot:
    return Slot(channel, fields, timestamp="timestamp")


ATTRIBUTES = tuple(Slot(channel) for channel in ch.ATTRIBUTES)
BATTERY = _periodic(ch.BATTERY, "battery", "%")
TEMPERATURE = _periodic(ch.temperature(0x03), "temperature", "degC")
HUMIDITY = _periodic(ch.HUMIDITY, "humidity", "%")
OCCUPANCY = _periodic(ch.PIR, "occupancy", None)
CO2 = _periodic(ch.CO2, "co2", "ppm")
PRESSURE = _periodic(ch.PRESSURE, "pressure", "hPa")

_CLIMATE = (
    Field("temperature", "temperature", "degC"),
    Field("humidity", "humidity", "%"),
)
_AM300_HISTORY = (
    *_CLIMATE,
    Field("pir", "occupancy", None),
    Field("co2", "co2", "ppm"),
    Field("pressure", "pressure", "hPa"),
)
_AM319_HISTORY = (*_AM300_HISTORY, Field("pm2_5", "pm2_5", "ug/m3"), Field("pm10", "pm10", "ug/m3"))

_AM307 = (
    BATTERY,
    TEMPERATURE,
    HUMIDITY,
    OCCUPANCY,
    Slot(ch.ACTIVITY),
    Slot(ch.LIGHT_LEVEL),
    CO2,
    Slot(ch.TVOC),
    Slot(ch.TVOC_MASS),
    PRESSURE,
    Slot(ch.BEEP),
)

LAYOUTS: dict[str, tuple[Slot, ...]] = {
    "milesight-iot/em300-th": (
        BATTERY,
        TEMPERATURE,
        HUMIDITY,
        _history(ch.EM300_HISTORY, *_CLIMATE),
    ),
    "milesight-iot/am307": (
        *_AM307,
        _history(ch.AM307_HISTORY, *_AM300_HISTORY),
        _history(ch.AM307_HISTORY_TVOC_MASS, *_AM300_HISTORY),
    ),
    "milesight-iot/am319": (
        *_AM307,
        Slot(ch.HCHO),
        _periodic(ch.PM2_5, "pm2_5", "ug/m3"),
        _periodic(ch.PM10, "pm10", "ug/m3"),
        _periodic(ch.O3, "o3", "ug/m3", O3_UG_M3_PER_PPM),
        _history(ch.AM319_HISTORY, *_AM319_HISTORY),
        _history(ch.AM319_HISTORY_TVOC_MASS, *_AM319_HISTORY),
    ),
    "milesight-iot/em310-udl": (
        BATTERY,
        _periodic(ch.distance(0x03), "distance", "mm"),
        Slot(ch.POSITION_EM310),
    ),
    "milesight-iot/em400-udl": (
        BATTERY,
        TEMPERATURE,
        _periodic(ch.distance(0x04), "distance", "mm"),
        Slot(ch.POSITION_EM400),
        Slot(ch.TEMPERATURE_ALARM, (Field("temperature", "temperature", "degC"),)),
        Slot(ch.DISTANCE_ALARM, (Field("distance", "distance", "mm"),)),
        Slot(ch.LOCATION),
    ),
    "milesight-iot/ws302": (
        BATTERY,
        Slot(
            ch.SOUND,
            (Field("leq", "noise_laeq", "dB(A)"), Field("lmax", "noise_lamax", "dB(A)")),
            encodes=True,
            gate=a_weighted,
            preset=_a_weighted_fast,
        ),
    ),
}


# Channel ids whose type byte names a setting or a command, not a value type: nothing about their size follows
# from it (device information, and the answers to downlinks).
_COMMAND_CHANNELS = frozenset({0xFE, 0xFF})


def _size_of_type() -> dict[int, int]:
    """Channel type -> value size, for the types whose every measurement channel in every table has the same
    size."""
    sizes: dict[int, set[int]] = {}
    for slot in (slot for slots in LAYOUTS.values() for slot in slots):
        if slot.channel.id not in _COMMAND_CHANNELS:
            sizes.setdefault(slot.channel.type, set()).add(slot.channel.size)
    return {kind: size for kind, (size, *others) in sizes.items() if not others}


def skippable_size(key: tuple[int, int]) -> int | None:
    """How many value bytes an unknown channel has, when its type tells; None when it does not."""
    return None if key[0] in _COMMAND_CHANNELS else SIZE_OF_TYPE.get(key[1])


SIZE_OF_TYPE = _size_of_type()


def table(model: str) -> dict[tuple[int, int], Slot]:
    """(channel id, channel type) -> slot for ``model``, device-information channels included."""
    slots = (*ATTRIBUTES, *LAYOUTS[model])
    found = {slot.channel.key: slot for slot in slots}
    if len(found) != len(slots):
        raise ValueError(f"{model}: a channel appears twice in its layout")
    return found


def writers(model: str) -> tuple[Slot, ...]:
    """The slots ``encode`` writes for ``model``, at most one per quantity."""
    chosen = tuple(slot for slot in LAYOUTS[model] if slot.encodes)
    quantities = [q for slot in chosen for q in slot.quantities]
    if len(quantities) != len(set(quantities)):
        raise ValueError(f"{model}: two channels encode the same quantity")
    return chosen
