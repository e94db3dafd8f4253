"""Adding and removing tenants: one implementation behind `suitcase tenants` and the platform administrator's
console page. Both run for the installation itself (never with ``--tenant``), in its folder.

Adding a tenant writes its folder (``<var>/tenants/<name>/``) with its own settings file (``tenant.env``, 0600:
fresh passwords for its ingest service's broker account, its InfluxDB users and its /metrics token, and the
installation's shared settings such as where the broker and InfluxDB are), and its ingest service's account into
the broker files. Removing one takes its accounts out of the broker files; its folder and data stay.
"""

from __future__ import annotations

import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path

from dotenv import dotenv_values

from iot_suitcase.devices.credentials.issuing import commit, open_store, remove_broker_part
from iot_suitcase.devices.credentials.mosquitto import write_atomically
from iot_suitcase.devices.credentials.settings import SecuritySettings
from iot_suitcase.devices.opendata.settings import SERVER_ENV_FILE, TENANT_SERVER_SETTINGS
from iot_suitcase.devices.registry import RegistryError, RegistryFile
from iot_suitcase.devices.settings import ENV_FILE, TopicSettings, settings_of, tenant_env_file
from iot_suitcase.devices.tenants.model import ACCOUNTS_FILE, REGISTRY_FILE, Tenant
from iot_suitcase.devices.tenants.moving import Manifest, write_files
from iot_suitcase.devices.tenants.store import TenantsError, load_tenants, new_tenant, save_tenants

# What a tenant shares with the installation: where the broker and InfluxDB are and how to reach them, where the
# broker files are, how the console is served. Never a secret, never a file of the installation's own data.
SHARED_SETTINGS = (
    "SUITCASE_MQTT_HOST",
    "SUITCASE_MQTT_PORT",
    "SUITCASE_MQTT_SERVICE_PORT",
    "SUITCASE_MQTT_TLS_CA",
    "SUITCASE_MQTT_TLS_CERT",
    "SUITCASE_MQTT_TLS_KEY",
    "SUITCASE_INFLUX_FLAVOUR",
    "SUITCASE_INFLUX_URL",
    "SUITCASE_INFLUX_RETENTION_POLICY",
    "SUITCASE_HTTP_HOST",
    "SUITCASE_HTTP_TLS_CERT",
    "SUITCASE_HTTP_TLS_KEY",
    "SUITCASE_DEVICE_MQTT_HOST",
    "SUITCASE_DEVICE_MQTT_PORT",
    "SUITCASE_DEVICE_CA_FILE",
    "SUITCASE_MOSQUITTO_PASSWORD_FILE",
    "SUITCASE_MOSQUITTO_ACL_FILE",
    "SUITCASE_MOSQUITTO_SERVICE_PASSWORD_FILE",
    "SUITCASE_MOSQUITTO_SERVICE_ACL_FILE",
    "SUITCASE_MOSQUITTO_PID_FILE",
    "SUITCASE_BROKER_LOG_FILE",  # each service shows its own accounts' refusals only
)


@dataclass(frozen=True, slots=True)
class AddedTenant:
    tenant: Tenant
    folder: Path
    topic_root: str
    devices: int  # a moved tenant's


def add_tenant(name: str, title: str, moved: Moved | None = None) -> AddedTenant:
    """Add a tenant to the installation whose settings this process reads, new or ``moved`` from another
    installation (its files, the topic root its devices use, the settings it chose); TenantsError says why not,
    and a moved tenant that cannot be set up leaves nothing behind."""
    settings = TopicSettings()
    tenants = load_tenants(settings.tenants_file)
    platform = SecuritySettings()
    if platform.mqtt_password is None:
        raise TenantsError("run `suitcase init` first: the broker files start with the installation's own")
    tenant = new_tenant(tenants, name, title)
    folder = tenant.folder(settings.tenants_file)
    if moved is not None and folder.exists():
        raise TenantsError(f"{folder} exists (a removed tenant's?): move it away first")
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        devices = 0
        if moved is not None:
            write_files(folder, moved.files)
            counted = device_count(tenant, settings.tenants_file)
            if counted is None:
                raise TenantsError(f"its registry, {folder / REGISTRY_FILE}, cannot be read")
            devices = counted
        env_file = tenant_env_file(tenant.name)
        chosen = {} if moved is None else moved.manifest.settings
        root = None if moved is None else moved.manifest.topic_root
        write_atomically(env_file, tenant_env_text(tenant, settings, topic_root=root, chosen=chosen), mode=0o600)
        write_atomically(env_file.with_name(SERVER_ENV_FILE), opendata_settings(env_file), mode=0o600)
        own = SecuritySettings(_env_file=env_file, tenant=tenant.name)
        store = open_store(own)  # its credentials file read (a moved one checked) before the broker's are written
        commit(open_store(platform), platform)  # the installation's own part first, as it is now
        commit(store, own)
    except (ValueError, OSError) as error:  # TenantsError among them
        if moved is not None:
            shutil.rmtree(folder, ignore_errors=True)
        raise TenantsError(f"tenant {tenant.name} cannot be set up here: {error}") from None
    save_tenants(settings.tenants_file, {**tenants, tenant.name: tenant})
    return AddedTenant(tenant, folder, own.topic_root, devices)


@dataclass(frozen=True, slots=True)
class Moved:
    """A tenant from another installation's export: what its archive held."""

    manifest: Manifest
    files: dict[str, bytes]


def device_count(tenant: Tenant, tenants_file: Path) -> int | None:
    """How many devices a tenant has registered; None if its registry cannot be read."""
    registry = tenant.folder(tenants_file) / REGISTRY_FILE
    try:
        return len(RegistryFile(registry).load()) if registry.exists() else 0
    except RegistryError:
        return None


def remove_tenant(name: str) -> tuple[Tenant, Path]:
    """Take a tenant's accounts out of the broker files and the tenants file; its folder and data stay."""
    settings = TopicSettings()
    tenants = load_tenants(settings.tenants_file)
    tenant = tenants.pop(name, None)
    if tenant is None:
        raise TenantsError(f"no tenant {name[:40]!r} (suitcase tenants list)")
    remove_broker_part(SecuritySettings(), tenant.name)
    save_tenants(settings.tenants_file, tenants)
    return tenant, tenant.folder(settings.tenants_file)


def own_settings(tenant: Tenant, settings: TopicSettings, topic_root: str | None = None) -> dict[str, object]:
    """A tenant's own names, paths and fresh passwords, made by the installation it is on."""
    folder = tenant.folder(settings.tenants_file)
    return {
        "SUITCASE_TOPIC_ROOT": topic_root or tenant.topic_root(settings.topic_root),
        "SUITCASE_REGISTRY_FILE": folder / REGISTRY_FILE,
        "SUITCASE_CREDENTIALS_FILE": folder / "credentials.yaml",
        "SUITCASE_ACCOUNTS_FILE": folder / ACCOUNTS_FILE,
        "SUITCASE_DATA_DIR": folder / "ingest",
        "SUITCASE_JAVASCRIPT_DECODERS_FILE": folder / "decoders.toml",
        "SUITCASE_OPENDATA_FILE": folder / "opendata.toml",
        "SUITCASE_HTTP_PORT": tenant.http_port,
        "SUITCASE_OPENDATA_PORT": tenant.http_port + 1000,  # its open-data server's (the installation's: 9080)
        "SUITCASE_MQTT_USERNAME": tenant.ingest_user,
        "SUITCASE_MQTT_CLIENT_ID": tenant.ingest_user,
        "SUITCASE_MQTT_PASSWORD": secrets.token_urlsafe(24),
        "SUITCASE_INFLUX_DATABASE": tenant.database,
        "SUITCASE_INFLUX_USERNAME": f"suitcase-writer-{tenant.name}",
        "SUITCASE_INFLUX_PASSWORD": secrets.token_urlsafe(24),
        "SUITCASE_INFLUX_READ_USERNAME": f"suitcase-reader-{tenant.name}",
        "SUITCASE_INFLUX_READ_PASSWORD": secrets.token_urlsafe(24),
        "SUITCASE_METRICS_TOKEN": secrets.token_urlsafe(32),
    }


def opendata_settings(env_file: Path) -> str:
    """What a tenant's open-data server reads of its ``tenant.env`` (its ``opendata.env``): the reader's account
    and its port, none of its other secrets."""
    return settings_of(env_file, TENANT_SERVER_SETTINGS, "open-data server")


def tenant_opendata_settings() -> list[tuple[Path, str]]:
    """Every tenant's ``opendata.env`` as its ``tenant.env`` says now (for tenants added before it was written)."""
    settings = TopicSettings()
    files = [
        tenant.folder(settings.tenants_file) / "tenant.env" for tenant in load_tenants(settings.tenants_file).values()
    ]
    return [(env.with_name(SERVER_ENV_FILE), opendata_settings(env)) for env in files if env.is_file()]


def tenant_env_text(
    tenant: Tenant, settings: TopicSettings, *, topic_root: str | None = None, chosen: dict[str, str] | None = None
) -> str:
    """A tenant's settings file: its own names, paths and fresh passwords, the settings it chose (those a moved
    tenant brings along), then the installation's shared ones."""
    installation = {key: value for key, value in dotenv_values(ENV_FILE).items() if value}
    shared = {key: installation[key] for key in SHARED_SETTINGS if key in installation}
    lines = [
        f"# The settings of tenant {tenant.name} (`suitcase --tenant {tenant.name} ...` reads this file instead of",
        "# .env), written by `suitcase tenants add` or `import`. Keep it private; never commit it.",
        *(f"{key}={value}" for key, value in own_settings(tenant, settings, topic_root).items()),
    ]
    if chosen:
        lines += ["# its own choices, brought along from the installation it was exported from"]
        lines += [f"{key}={value}" for key, value in chosen.items()]
    lines += [
        "# shared with the installation, as its .env had them",
        *(f"{key}={value}" for key, value in shared.items()),
    ]
    return "\n".join(lines) + "\n"


def chosen_settings(env_file: Path, tenant: Tenant, settings: TopicSettings) -> dict[str, str]:
    """The settings a tenant chose itself (quotas, alert contacts, ...): its settings file without what the
    installation makes for it (paths, passwords, port) or shares with it."""
    made = set(own_settings(tenant, settings)) | set(SHARED_SETTINGS)
    return {key: value for key, value in dotenv_values(env_file).items() if value and key not in made}
