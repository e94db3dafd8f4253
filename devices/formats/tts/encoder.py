"""A The Things Stack v3 uplink message written as The Things Stack writes it: the inverse of decoder.py."""

from __future__ import annotations

import base64
from typing import Any

from iot_suitcase.devices.formats.base import Encoded, Sent
from iot_suitcase.devices.formats.lorawan.transmission import Transmission
from iot_suitcase.devices.timestamps import format_rfc3339


def encode(
    uplink: Transmission, *, application_id: str, tenant: str, cluster: str = "eu1", sent: tuple[Sent, ...] = ()
) -> Encoded:
    """The message on ``v3/<application id>@<tenant>/devices/<device id>/up`` (The Things Stack's MQTT
    server); ``version_ids`` name the device's model as the device repository does."""
    received = format_rfc3339(uplink.time)
    brand, model_id = uplink.model.split("/", 1)
    factor = uplink.spreading_factor
    message: dict[str, Any] = {
        "f_port": uplink.fport,
        "f_cnt": uplink.fcnt,
        "frm_payload": base64.b64encode(uplink.payload).decode(),
        "rx_metadata": [
            {
                "gateway_ids": {"gateway_id": f"eui-{heard.gateway}", "eui": heard.gateway.upper()},
                "time": received,
                "timestamp": heard.token,
                "rssi": heard.rssi,
                "channel_rssi": heard.rssi,
                "snr": heard.snr,
                "location": {"latitude": heard.latitude, "longitude": heard.longitude, "source": "SOURCE_REGISTRY"},
                "received_at": received,
            }
            for heard in uplink.heard
        ],
        "settings": {
            "data_rate": {"lora": {"bandwidth": 125_000, "spreading_factor": factor, "coding_rate": "4/5"}},
            "frequency": str(uplink.frequency_hz),
        },
        "received_at": received,
        "confirmed": False,
        "consumed_airtime": f"{0.0412 * 2 ** (factor - 7):.6f}s",
        "version_ids": {"brand_id": brand, "model_id": model_id, "band_id": "EU_863_870"},
        "network_ids": {"net_id": "000013", "tenant_id": tenant, "cluster_id": cluster},
    }
    body = {
        "end_device_ids": {
            "device_id": uplink.device_id,
            "application_ids": {"application_id": application_id},
            "dev_eui": uplink.dev_eui.upper(),
            "dev_addr": uplink.dev_addr.upper(),
        },
        "received_at": received,
        "uplink_message": message,
    }
    return Encoded(f"v3/{application_id}@{tenant}/devices/{uplink.device_id}/up", body, sent)
