"""The catalog's units as UCUM codes (the Unified Code for Units of Measure, which SensorThings' unitOfMeasurement
expects), for the public side. A unit not listed is given as it is."""

from __future__ import annotations

UCUM = {
    "%": "%",
    "A": "A",
    "V": "V",
    "W": "W",
    "kWh": "kW.h",
    "count": "{count}",
    "dB": "dB",
    "dB(A)": "dB",  # A-weighted: UCUM has no weighting; the quantity's name says it
    "dBm": "dB[mW]",
    "deg": "deg",
    "degC": "Cel",
    "hPa": "hPa",
    "lux": "lx",
    "m": "m",
    "m/s": "m/s",
    "mm": "mm",
    "ppb": "[ppb]",
    "ppm": "[ppm]",
    "ug/m3": "ug/m3",
}


def ucum_code(unit: str) -> str:
    return UCUM.get(unit, unit)
