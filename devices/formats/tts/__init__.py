"""The Things Stack v3 uplinks (see README.md in this folder)."""

from iot_suitcase.devices.formats.tts.decoder import PUBSUB_TOPIC_FILTER, TheThingsStackFormat, pubsub_topic

FORMAT = TheThingsStackFormat()

__all__ = ["FORMAT", "PUBSUB_TOPIC_FILTER", "TheThingsStackFormat", "pubsub_topic"]
