"""A ChirpStack v4 uplink event written as ChirpStack writes it: the inverse of decoder.py."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from iot_suitcase.devices.formats.base import Encoded, Sent
from iot_suitcase.devices.formats.lorawan.transmission import Transmission
from iot_suitcase.devices.timestamps import format_rfc3339


def encode(
    uplink: Transmission,
    *,
    application_id: str,
    application_name: str,
    tenant_id: str,
    tenant_name: str,
    deduplication_id: str,
    device_profile_id: str,
    decoded: Mapping[str, float] | None = None,
    sent: tuple[Sent, ...] = (),
) -> Encoded:
    """The event on ``application/<application id>/device/<DevEUI>/event/up`` (ChirpStack's MQTT integration,
    JSON marshaler); ``decoded`` becomes ``object``, as a device profile with a codec adds it."""
    body: dict[str, Any] = {
        "deduplicationId": deduplication_id,
        "time": format_rfc3339(uplink.time),
        "deviceInfo": {
            "tenantId": tenant_id,
            "tenantName": tenant_name,
            "applicationId": application_id,
            "applicationName": application_name,
            "deviceProfileId": device_profile_id,
            "deviceProfileName": uplink.model,
            "deviceName": uplink.device_id,
            "devEui": uplink.dev_eui,
            "tags": dict(uplink.tags),
        },
        "devAddr": uplink.dev_addr,
        "adr": True,
        "dr": 12 - uplink.spreading_factor,
        "fCnt": uplink.fcnt,
        "fPort": uplink.fport,
        "confirmed": False,
        "data": base64.b64encode(uplink.payload).decode(),
        "rxInfo": [
            {
                "gatewayId": heard.gateway,
                "uplinkId": heard.token,
                "rssi": heard.rssi,
                "snr": heard.snr,
                "channel": uplink.fcnt % 8,
                "location": {"latitude": heard.latitude, "longitude": heard.longitude},
                "context": base64.b64encode(heard.context).decode(),
                "metadata": {"region_config_id": "eu868", "region_common_name": "EU868"},
                "crcStatus": "CRC_OK",
            }
            for heard in uplink.heard
        ],
        "txInfo": {
            "frequency": uplink.frequency_hz,
            "modulation": {
                "lora": {"bandwidth": 125_000, "spreadingFactor": uplink.spreading_factor, "codeRate": "CR_4_5"}
            },
        },
    }
    if decoded is not None:
        body["object"] = dict(decoded)
    return Encoded(f"application/{application_id}/device/{uplink.dev_eui}/event/up", body, sent)
