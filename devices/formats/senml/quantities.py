"""Which catalog quantity a resolved SenML record is, and which device its name belongs to.

The rule (README.md): the part of the name after its last ':' or '/' names the quantity (a catalog
name or one of a few common aliases) and everything before it names the device. When that part is no
quantity, as in ``urn:dev:ow:10e2073a01080063`` of RFC 8428 5.1.1, the whole name is the device and the
unit must say the quantity on its own (Cel is a temperature; V could be a battery or a mains voltage).
"""

from __future__ import annotations

from collections.abc import Collection

from iot_suitcase.devices.errors import DecodeError, RejectCode
from iot_suitcase.devices.formats.senml.resolve import Record

# Record names seen in SenML devices that are not catalog names; matched case-insensitively, '-' as '_'.
NAME_ALIASES: dict[str, str] = {
    "temp": "temperature",
    "hum": "humidity",
    "rh": "humidity",
    "press": "pressure",
    "lux": "illuminance",
    "pm1.0": "pm1",
    "pm2.5": "pm2_5",
    "pm25": "pm2_5",
    "pm4.0": "pm4",
    "noise": "noise_laeq",
    "laeq": "noise_laeq",
    "vbat": "battery_voltage",
}
# Units that by themselves tell the quantity (SenML registry symbols, plus hPa of RFC 8798).
UNIT_QUANTITIES: dict[str, str] = {
    "Cel": "temperature",
    "K": "temperature",
    "%RH": "humidity",
    "%EL": "battery",
    "Pa": "pressure",
    "hPa": "pressure",
    "lx": "illuminance",
    "A": "current",
    "W": "power",
}
# RFC 8428 12.1 note 2: SenML's "%" is the ratio 0..1 (like "/"), NOT a percentage.
_SENML_TO_CATALOG_UNIT = {"%": "/"}
_SEPARATORS = (":", "/")


def catalog_unit(senml_unit: str | None) -> str | None:
    """The catalog symbol for a SenML unit symbol (they agree except for SenML's ratio "%")."""
    if senml_unit is None:
        return None
    return _SENML_TO_CATALOG_UNIT.get(senml_unit, senml_unit)


def split_name(name: str) -> tuple[str, str]:
    """(device part, last part) of a resolved name, cut at its last ':' or '/'."""
    cut = max(name.rfind(separator) for separator in _SEPARATORS)
    return name[:cut] if cut >= 0 else "", name[cut + 1 :]


def quantity_of(record: Record, known: Collection[str]) -> tuple[str, str]:
    """(catalog quantity, device part of the name) for one record, or ``unknown_quantity``."""
    device, last = split_name(record.name)
    key = last.lower().replace("-", "_")
    quantity = NAME_ALIASES.get(key, key)
    if quantity in known:
        return quantity, device
    by_unit = UNIT_QUANTITIES.get(record.unit or "")
    if by_unit is not None:
        return by_unit, record.name
    raise DecodeError(
        RejectCode.UNKNOWN_QUANTITY,
        f"record {record.index} ({record.name[:80] or 'unnamed'}, unit {record.unit!r}): neither the name's "
        f"last part {last[:40]!r} nor the unit names a catalog quantity; name it after one, e.g. "
        "'<device>:temperature'",
    )
