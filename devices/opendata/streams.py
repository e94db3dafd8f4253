"""Which (device, quantity) pairs are public, and how: the one place the public side asks. A device whose
kind nobody gave publishes nothing (its quantities are not known before it reports)."""

from __future__ import annotations

from dataclasses import dataclass

from iot_suitcase.devices.catalog import Catalog
from iot_suitcase.devices.catalog.catalog import Quantity
from iot_suitcase.devices.opendata.model import OpenDataRules, Privacy, Scope, rounded
from iot_suitcase.devices.registry import Device, Location, Registry


@dataclass(frozen=True, slots=True)
class Stream:
    """One published datastream: a device's quantity, with the privacy its readings get."""

    device: Device
    quantity: Quantity
    privacy: Privacy

    @property
    def key(self) -> str:
        return f"{self.device.id}~{self.quantity.name}"


def privacy_of(quantity: Quantity, rules: OpenDataRules) -> Privacy:
    if quantity.aggregate == "sum" and quantity.dimension == "count":  # people, bicycles, door openings
        return Privacy("sum", rules.count_bucket_s, 0)
    if quantity.indoor:
        return Privacy("mean", rules.indoor_bucket_s, rules.indoor_delay_s)
    return Privacy()


def published_streams(registry: Registry, catalog: Catalog, rules: OpenDataRules) -> list[Stream]:
    """Every published stream, by device id then quantity: a device chosen by its site or id publishes every
    quantity of its kind; a chosen quantity is published from every device whose kind has it."""
    streams = []
    for device in registry.devices:
        kind = catalog.kinds.get(device.kind or "")
        if kind is None:
            continue
        whole = rules.chooses(Scope.SITE, device.site) or rules.chooses(Scope.DEVICE, device.id)
        for name in kind.quantities:
            if whole or rules.chooses(Scope.QUANTITY, name):
                quantity = catalog.quantities[name]
                streams.append(Stream(device, quantity, privacy_of(quantity, rules)))
    return streams


def public_location(device: Device, streams: list[Stream], rules: OpenDataRules) -> Location | None:
    """Where the public may see a device: rounded when it measures anything indoors (a building's room)."""
    if device.location is None:
        return None
    if not any(s.device.id == device.id and s.quantity.indoor for s in streams):
        return device.location
    step = rules.indoor_round_deg
    return Location(lat=rounded(device.location.lat, step), lon=rounded(device.location.lon, step))
