"""What the LoRaWAN network-server formats (chirpstack, tts) share; not a payload format itself.

Both servers wrap the same thing, an uplink's bytes with radio metadata and perhaps their own decoder's
output, in different JSON. Each format folder unwraps its envelope into an ``Uplink``; this package turns
that into readings the same way for both: the project's codec when the model is known, else the decoder
output through the field table (fields.toml), plus the best gateway's RSSI and SNR.
"""

from iot_suitcase.devices.formats.lorawan.json_access import JsonObject, parse_object
from iot_suitcase.devices.formats.lorawan.uplink import Reception, Uplink, decode_hex_eui, uplink_readings

__all__ = ["JsonObject", "Reception", "Uplink", "decode_hex_eui", "parse_object", "uplink_readings"]
