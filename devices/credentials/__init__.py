"""Device credentials and the Mosquitto password/ACL files made from them."""

from devices.credentials.mosquitto import acl_file, hash_password, password_file, verify_password
from devices.credentials.store import CredentialStore, IssuedCredentials

__all__ = ["CredentialStore", "IssuedCredentials", "acl_file", "hash_password", "password_file", "verify_password"]
