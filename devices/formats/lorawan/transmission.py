"""An uplink as a network server saw it: the facts that the ChirpStack and The Things Stack encoders write
into their events (the inverse of uplink.py, which reads them back)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Heard:
    """One gateway's reception of the uplink."""

    gateway: str  # the gateway's EUI, 16 hex digits
    rssi: int  # dBm
    snr: float  # dB
    latitude: float
    longitude: float
    token: int  # the network server's number for this reception (ChirpStack uplinkId, TTS timestamp)
    context: bytes = b""  # ChirpStack's opaque gateway context


@dataclass(frozen=True, slots=True)
class Transmission:
    device_id: str
    dev_eui: str  # 16 hex digits, lower-case
    dev_addr: str  # 8 hex digits
    model: str  # "vendor/model"
    fport: int
    fcnt: int
    payload: bytes
    time: datetime
    heard: tuple[Heard, ...]  # strongest first
    spreading_factor: int
    frequency_hz: int
    tags: Mapping[str, str] = field(default_factory=dict)
