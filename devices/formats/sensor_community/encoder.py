"""The airrohr firmware's JSON written as a station writes it: the inverse of decoder.py."""

from __future__ import annotations

from collections.abc import Mapping

from iot_suitcase.devices.formats.base import Encoded, FormatContext, Sent
from iot_suitcase.devices.formats.sensor_community.decoder import TOPIC_LEVEL

# One station's sensors: an SDS011 for PM10/PM2.5, or an SPS30 when PM1/PM4 are wanted too; a BME280 for
# climate, a DNMS for noise, and the WiFi signal (names as in the firmware's fetchSensor* functions).
_SDS011 = {"pm10": "SDS_P1", "pm2_5": "SDS_P2"}
_SPS30 = {"pm1": "SPS30_P0", "pm2_5": "SPS30_P2", "pm4": "SPS30_P4", "pm10": "SPS30_P1"}
_OTHERS = {
    "temperature": "BME280_temperature",
    "humidity": "BME280_humidity",
    "pressure": "BME280_pressure",
    "noise_laeq": "DNMS_noise_LAeq",
    "noise_lamax": "DNMS_noise_LA_max",
    "rssi": "signal",
}
QUANTITIES = frozenset({*_SPS30, *_OTHERS})
FIRMWARE = "NRZ-2020-133"


def encode(
    device_id: str, values: Mapping[str, float], context: FormatContext, *, diagnostics: Mapping[str, int]
) -> Encoded:
    """``{"esp8266id", "software_version", "sensordatavalues"}`` on ``<root>/esp8266-<chip id>/airrohr``:
    every value a string with two decimals, pressure in Pa, the signal in whole dBm, then the firmware's
    own ``diagnostics`` (samples, min_micro, max_micro, interval), which carry no quantity."""
    names = _SPS30 if {"pm1", "pm4"} & set(values) else _SDS011
    entries: list[dict[str, str]] = []
    sent: list[Sent] = []
    for quantity, value in values.items():
        value_type = names.get(quantity) or _OTHERS[quantity]
        if quantity == "pressure":
            text = f"{value * 100.0:.2f}"
            sent.append((quantity, float(text), "Pa"))
        else:
            text = f"{value:.{2 if quantity != 'rssi' else 0}f}"
            sent.append((quantity, float(text), None))
        entries.append({"value_type": value_type, "value": text})
    entries += [{"value_type": name, "value": str(value)} for name, value in diagnostics.items()]
    body = {"esp8266id": device_id.removeprefix("esp8266-"), "software_version": FIRMWARE, "sensordatavalues": entries}
    return Encoded(f"{context.topic_root}/{device_id}/{TOPIC_LEVEL}", body, tuple(sent))
