"""Device credentials and the Mosquitto password/ACL files and listener configuration made from them."""

from iot_suitcase.devices.credentials.mosquitto import (
    BrokerFiles,
    Listener,
    device_acl,
    hash_password,
    listener_config,
    password_file,
    service_acl,
    verify_password,
)
from iot_suitcase.devices.credentials.store import CredentialStore, IssuedCredentials

__all__ = [
    "BrokerFiles",
    "CredentialStore",
    "IssuedCredentials",
    "Listener",
    "device_acl",
    "hash_password",
    "listener_config",
    "password_file",
    "service_acl",
    "verify_password",
]
