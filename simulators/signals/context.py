"""What a signal knows about the device it simulates: its keys, where it is, indoors or out, its radio."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from iot_suitcase.simulators.signals.calendar import Moment


class Radio(StrEnum):
    LORA = "lora"  # RSSI/SNR as a LoRaWAN gateway hears it
    WIFI = "wifi"  # the device's own view of its access point (sensor.community's "signal")


@dataclass(frozen=True, slots=True)
class Context:
    """The fixed facts of one simulated device. Devices of one site share ``site_seed``: one weather."""

    seed: int
    site_seed: int
    lat: float = 56.1567
    lon: float = 10.2108
    indoor: bool = False
    radio: Radio = Radio.WIFI
    gateway_km: float = 1.0


# A signal: (device, when, seconds since the device's previous message) -> value in the canonical unit.
Signal = Callable[[Context, Moment, float], float]
