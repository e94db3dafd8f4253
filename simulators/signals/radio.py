"""Radio: RSSI and SNR by distance to the gateway (LoRaWAN) or access point (WiFi).

LoRaWAN at 868 MHz in a city: a log-distance path loss of about 115 dB at 1 km growing 32 dB per decade
(between free space and Okumura-Hata's urban figure for a rooftop gateway), 12 dB more for an indoor
device, a fixed shadowing per device-gateway pair (obstacles, sigma 6 dB) and fast fading per uplink
(sigma 2.5 dB). SNR is the RSSI over the noise floor of a 125 kHz channel (about -117 dBm), limited to
what gateways report (-20 to +12 dB).
"""

from __future__ import annotations

import math

from iot_suitcase.simulators.signals.calendar import Moment
from iot_suitcase.simulators.signals.context import Context, Radio
from iot_suitcase.simulators.signals.noise import bounded, fractal, mix, normal, text_key

_RSSI = text_key("rssi")
_SNR = text_key("snr")
_TX_POWER_DBM = 14.0
_ANTENNA_GAIN_DB = 2.0
_NOISE_FLOOR_DBM = -117.0
_INDOOR_LOSS_DB = 12.0


def path_loss_db(km: float) -> float:
    return 115.0 + 32.0 * math.log10(max(km, 0.05))


def lora_reception(ctx: Context, t: float, km: float, gateway: int = 0) -> tuple[float, float]:
    """(RSSI dBm, SNR dB) of one uplink at epoch second ``t`` as gateway number ``gateway`` hears it."""
    shadowing = 6.0 * normal(ctx.seed, _RSSI, gateway)
    fading = 2.5 * normal(ctx.seed, _RSSI, gateway, math.floor(t * 1000.0))
    indoor = _INDOOR_LOSS_DB if ctx.indoor else 0.0
    rssi = _TX_POWER_DBM + _ANTENNA_GAIN_DB - path_loss_db(km) - indoor + shadowing + fading
    rssi = round(bounded(rssi, -135.0, -30.0))
    snr = rssi - _NOISE_FLOOR_DBM + 1.5 * normal(ctx.seed, _SNR, gateway, math.floor(t * 1000.0))
    return float(rssi), round(bounded(snr, -20.0, 12.0), 1)


def _wifi_rssi(ctx: Context, at: Moment) -> float:
    placement = 10.0 * normal(ctx.seed, _RSSI)  # next to the router or behind two walls
    level = -62.0 + placement + 4.0 * fractal(mix(ctx.seed, _RSSI), at.t, 3600.0)
    return round(bounded(level + 2.0 * normal(ctx.seed, _RSSI, math.floor(at.t * 1000.0)), -95.0, -30.0))


def rssi(ctx: Context, at: Moment, _dt: float) -> float:
    """dBm of the device's last message: the nearest gateway (LoRa) or its access point (WiFi)."""
    if ctx.radio is Radio.LORA:
        return lora_reception(ctx, at.t, ctx.gateway_km)[0]
    return _wifi_rssi(ctx, at)


def snr(ctx: Context, at: Moment, _dt: float) -> float:
    """dB of the device's last message."""
    if ctx.radio is Radio.LORA:
        return lora_reception(ctx, at.t, ctx.gateway_km)[1]
    return round(bounded(_wifi_rssi(ctx, at) + 92.0 + normal(ctx.seed, _SNR, math.floor(at.t * 1000.0)), -5.0, 40.0), 1)
