"""What `suitcase init` and `suitcase devices credentials` need: the settings groups of devices/settings.py."""

from __future__ import annotations

from iot_suitcase.devices.settings import (
    BrokerFileSettings,
    CredentialSettings,
    IngestAccountSettings,
    SimulatorAccountSettings,
    TopicSettings,
)


class SecuritySettings(
    TopicSettings, CredentialSettings, BrokerFileSettings, IngestAccountSettings, SimulatorAccountSettings
):
    """Where credentials and the broker's files live, and the platform's own broker accounts."""
