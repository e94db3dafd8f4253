"""The InfluxDB schema: one measurement per quantity, tagged by device, one float field ``value``.

Measurement names are catalog quantity names and device ids are restricted to [A-Za-z0-9._:-], so
neither ever needs escaping; tag values from elsewhere go through the line-protocol escaper.
"""

from __future__ import annotations

import calendar
from datetime import datetime

from devices.reading import Reading
from ingest.lineprotocol import format_float

DEVICE_TAG = "device"
VALUE_FIELD = "value"


def time_ns(moment: datetime) -> int:
    """Exact nanoseconds since the epoch (float timestamps would round the microseconds)."""
    return calendar.timegm(moment.utctimetuple()) * 1_000_000_000 + moment.microsecond * 1000


def reading_line(reading: Reading) -> str:
    """One line of line protocol for one reading; the value is always a float, so types never conflict."""
    return (
        f"{reading.quantity},{DEVICE_TAG}={reading.device_id} "
        f"{VALUE_FIELD}={format_float(reading.value)} {time_ns(reading.time)}"
    )
