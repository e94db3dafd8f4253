"""sensor.community (airrohr firmware) JSON (see README.md in this folder)."""

from iot_suitcase.devices.formats.sensor_community.decoder import SensorCommunityFormat

FORMAT = SensorCommunityFormat()

__all__ = ["FORMAT", "SensorCommunityFormat"]
