"""Decoder of SenML JSON (RFC 8428) on ``<root>/<device>/senml``: resolve the pack, map records to quantities.

The platform stores a message whole, so one record that cannot become a catalog reading (an unknown name
and unit) rejects the pack with a reason naming that record. A pack whose names give several devices is a
gateway's: published on the gateway's own topic, each record's readings are its named device's, and the
ingest service admits it only when the registry names that gateway for every one of them.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from iot_suitcase.devices.catalog import load_catalog
from iot_suitcase.devices.catalog.units import conversion
from iot_suitcase.devices.errors import DecodeError, RejectCode
from iot_suitcase.devices.formats.base import Decoded, FormatContext, Message, RawReading
from iot_suitcase.devices.formats.senml.quantities import catalog_unit, quantity_of
from iot_suitcase.devices.formats.senml.resolve import Record, load_pack, resolve
from iot_suitcase.devices.reading import check_device_id

TOPIC_LEVEL = "senml"
_SNIFF_LABELS = (b'"bn"', b'"n"', b'"v"', b'"u"', b'"bt"')
# RFC 8428 10: a power meter puts the energy it used (W x s = J) in the sum of its power record.
_POWER, _ENERGY, _JOULE, _WATT = "power", "energy", "J", "W"


class SenmlFormat:
    """SenML JSON packs: several records, base fields, relative or absolute times."""

    name = "senml"
    summary = "SenML JSON (RFC 8428) on <root>/<device>/senml"
    content_types: tuple[str, ...] = ("application/senml+json",)

    def topic_filters(self, context: FormatContext) -> list[str]:
        return [f"{context.topic_root}/+/{TOPIC_LEVEL}"]

    def matches_topic(self, topic: str, context: FormatContext) -> bool:
        levels = topic.split("/")
        return len(levels) == 3 and levels[0] == context.topic_root and levels[2] == TOPIC_LEVEL

    def sniff(self, payload: bytes) -> bool:
        return payload.lstrip()[:1] == b"[" and any(label in payload for label in _SNIFF_LABELS)

    def decode(self, message: Message, context: FormatContext) -> Decoded:
        topic_device = None
        if message.sender is not None:
            topic_device = check_device_id(message.sender)
        elif message.topic is not None and self.matches_topic(message.topic, context):
            topic_device = check_device_id(message.topic.split("/")[1])
        try:
            records = resolve(load_pack(message.payload), now=message.received_at)
            readings, devices, skipped = _readings(records)
            if len(devices) > 1:
                if topic_device is None:
                    raise _several_devices(devices, "publish one pack per device, or the pack on its gateway's topic")
                return Decoded(device_id=topic_device, readings=_relayed(readings, topic_device), skipped=skipped)
            readings = [replace(reading, device=None) for reading in readings]
            device_id = topic_device or _device_from_names(next(iter(devices)))
        except DecodeError as error:
            error.device_id = error.device_id or topic_device
            raise
        return Decoded(device_id=device_id, readings=readings, skipped=skipped)


def _readings(records: list[Record]) -> tuple[list[RawReading], dict[str, int], int]:
    """Raw readings of every record (``device``: the device part of its name), each device part with the
    first record naming it, and how many string, boolean or data records were skipped: RFC 8428 allows them
    in any pack, and no catalog quantity holds them."""
    known = load_catalog().quantities
    readings: list[RawReading] = []
    devices: dict[str, int] = {}
    skipped: list[Record] = []
    for record in records:
        if record.other_value is not None:
            skipped.append(record)
            continue
        quantity, device = quantity_of(record, known)
        devices.setdefault(device, record.index)
        unit = catalog_unit(record.unit)
        if record.value is not None:
            readings.append(RawReading(quantity, record.value, unit, record.time, device))
        if record.sum is not None:
            readings.append(replace(_energy_from_sum(record, record.sum, quantity, unit), device=device))
    if not readings:
        labels = sorted({record.other_value or "" for record in skipped})
        raise DecodeError(
            RejectCode.NO_READINGS,
            f"no numeric record: {len(skipped)} {'/'.join(labels)} record(s) skipped; only numeric values (v) are "
            "stored",
        )
    _check_unique(readings)
    return readings, devices, len(skipped)


def _several_devices(devices: dict[str, int], what_to_do: str) -> DecodeError:
    first, second = sorted(devices, key=devices.__getitem__)[:2]
    return DecodeError(
        RejectCode.DEVICE_MISMATCH,
        f"records name more than one device ({first[:64]!r} in record {devices[first]}, {second[:64]!r} in "
        f"record {devices[second]}); {what_to_do}",
    )


def _relayed(readings: list[RawReading], gateway: str) -> list[RawReading]:
    """A gateway's pack: each reading is its named device's (a record without a device part: the gateway's)."""
    relayed = []
    for reading in readings:
        device = device_id_of_name(reading.device) if reading.device else gateway
        relayed.append(replace(reading, device=None if device == gateway else device))
    return relayed


def _energy_from_sum(record: Record, total: float, quantity: str, unit: str | None) -> RawReading:
    """The sum of a power record is the energy used; the sum of anything else has no catalog quantity."""
    if quantity != _POWER:
        raise DecodeError(
            RejectCode.UNKNOWN_QUANTITY,
            f"record {record.index} ({record.name[:80] or 'unnamed'}): the sum (s) of {quantity} has no catalog "
            "quantity; only the sum of a power record is stored (as energy)",
        )
    to_watt = conversion(_POWER, unit or _WATT, _WATT)
    if to_watt is None:
        raise DecodeError(
            RejectCode.UNKNOWN_UNIT,
            f"record {record.index} ({record.name[:80] or 'unnamed'}): power unit {unit!r} is not accepted",
        )
    return RawReading(_ENERGY, to_watt.apply(total), _JOULE, record.time)


def _check_unique(readings: list[RawReading]) -> None:
    """Two values of one quantity at one time would overwrite each other in the store."""
    seen: set[tuple[str, datetime | None, str | None]] = set()
    for reading in readings:
        key = (reading.quantity, reading.time, reading.device)
        if key in seen:
            when = "now" if reading.time is None else reading.time.isoformat()
            raise DecodeError(
                RejectCode.DUPLICATE_READING,
                f"two records give {reading.quantity} at the same time ({when}); send one value per time",
            )
        seen.add(key)


def _device_from_names(device: str) -> str:
    if not device:
        raise DecodeError(
            RejectCode.MISSING_DEVICE,
            "no device id: publish on <root>/<device>/senml or give the records a base name (bn) "
            "such as 'urn:dev:ow:10e2073a01080063:'",
        )
    return device_id_of_name(device)


URN_DEV = "urn:dev:"


def device_id_of_name(device: str) -> str:
    """The device id a SenML device part names. A device URN (RFC 9039: ``urn:dev:ow:10e2073a01080063``)
    drops its ``urn:dev:`` prefix and writes ``-`` for ``:``, since a device id cannot carry ``:`` (it is the
    separator of Mosquitto's password file): ``ow-10e2073a01080063``."""
    if device.lower().startswith(URN_DEV):
        device = device[len(URN_DEV) :].replace(":", "-")
    return check_device_id(device)
