"""The airrohr firmware's value_type names: which catalog quantity each is, in which unit, and which win.

Names and units follow the firmware source (opendata-stuttgart/sensors-software, airrohr-firmware.ino,
the ``fetchSensor*`` functions): particulate matter in ug/m3, temperatures in degC, humidity in %,
pressure in Pa (not hPa), the DNMS noise levels in dB(A) and the WiFi ``signal`` in dBm.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ValueType:
    """A value_type the platform stores: its catalog quantity and the unit the firmware sends."""

    quantity: str
    unit: str


_PM, _CELSIUS, _PERCENT, _PASCAL, _DBA = "ug/m3", "degC", "%", "Pa", "dB(A)"

# Per quantity, the value_types that give it, best first. A station with two sensors for one quantity
# (a DHT22 and a BME280 both measure temperature) sends both; the platform keeps the one the firmware
# itself shows on its display (display_values(): SDS011 over SPS30 over NPM over HPM over PMS; SHT3x over
# BME/BMP280 over BMP180 over HTU21D over DS18B20 over DHT22), so one station gives one series per quantity.
PRECEDENCE: dict[str, tuple[str, ...]] = {
    "pm10": ("SDS_P1", "SPS30_P1", "NPM_P1", "HPM_P1", "PMS_P1"),
    "pm2_5": ("SDS_P2", "SPS30_P2", "NPM_P2", "HPM_P2", "PMS_P2"),
    "pm1": ("SPS30_P0", "NPM_P0", "PMS_P0"),
    "pm4": ("SPS30_P4",),
    "temperature": (
        "SHT3X_temperature",
        "BME280_temperature",
        "BMP280_temperature",
        "BMP_temperature",
        "HTU21D_temperature",
        "DS18B20_temperature",
        "temperature",  # DHT22
    ),
    "humidity": ("SHT3X_humidity", "BME280_humidity", "HTU21D_humidity", "humidity"),
    "pressure": ("BME280_pressure", "BMP280_pressure", "BMP_pressure"),
    "noise_laeq": ("DNMS_noise_LAeq",),
    "noise_lamax": ("DNMS_noise_LA_max",),
    "rssi": ("signal",),
}
_UNITS = {
    "pm10": _PM,
    "pm2_5": _PM,
    "pm1": _PM,
    "pm4": _PM,
    "temperature": _CELSIUS,
    "humidity": _PERCENT,
    "pressure": _PASCAL,
    "noise_laeq": _DBA,
    "noise_lamax": _DBA,
    "rssi": "dBm",
}
VALUE_TYPES: dict[str, ValueType] = {
    name: ValueType(quantity, _UNITS[quantity]) for quantity, names in PRECEDENCE.items() for name in names
}
RANK: dict[str, int] = {name: rank for names in PRECEDENCE.values() for rank, name in enumerate(names)}

# value_types the firmware sends that have no catalog quantity; they are left out, not rejected.
IGNORED: frozenset[str] = frozenset(
    {
        # the firmware's own diagnostics
        "samples",
        "min_micro",
        "max_micro",
        "interval",
        # GPS position and clock: the catalog has no location quantities
        "GPS_lat",
        "GPS_lon",
        "GPS_height",
        "GPS_date",
        "GPS_time",
        # particle number concentrations (#/cm3) and typical particle size (um)
        "SPS30_N05",
        "SPS30_N1",
        "SPS30_N25",
        "SPS30_N4",
        "SPS30_N10",
        "SPS30_TS",
        "NPM_N1",
        "NPM_N10",
        "NPM_N25",
        # the minimum level of the noise period
        "DNMS_noise_LA_min",
        # PPD42NS: pulse durations, ratios and particle counts per 0.01 cubic foot, not mass concentrations
        "durP1",
        "ratioP1",
        "P1",
        "durP2",
        "ratioP2",
        "P2",
    }
)
