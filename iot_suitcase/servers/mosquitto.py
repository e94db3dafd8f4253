"""A real Mosquitto broker on a private loopback port, with its own config, persistence and log."""

from __future__ import annotations

import getpass
import shutil
import string
from importlib import resources
from pathlib import Path

from iot_suitcase.devices.credentials import BrokerFiles, Listener, listener_config
from iot_suitcase.servers.processes import ManagedProcess, free_port, port_is_listening


class Mosquitto(ManagedProcess):
    """Mosquitto 2.x with persistence and unlimited per-client queues (see mosquitto.conf).

    The port is chosen once, so clients reconnect to the same address after a restart, and the
    persistence file in `data_dir` carries sessions and queued messages across clean restarts.
    """

    name = "mosquitto"

    def __init__(
        self,
        data_dir: Path,
        *,
        port: int | None = None,
        host: str = "127.0.0.1",
        service_port: int | None = None,
        files: BrokerFiles | None = None,
        message_size_limit: int = 0,
        autosave_interval_s: int = 1,
        extra_config: str = "",
    ) -> None:
        """``port``: the device listener; ``service_port``: the ingest service's listener on loopback (a free
        port when ``files`` secure the broker and none is given); ``message_size_limit``: 0 for none (the
        local stack gives the payload limit); ``autosave_interval_s``: how often the broker saves its state (a
        kill -9 loses what changed since); ``extra_config`` goes after the listeners."""
        super().__init__(data_dir, host=host, port=port)
        if service_port is None and files is not None:
            service_port = free_port("127.0.0.1")
        self.service_port = service_port
        self.files = files
        self.message_size_limit = message_size_limit
        self.autosave_interval_s = autosave_interval_s
        self.extra_config = extra_config

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    @property
    def config_path(self) -> Path:
        return self.data_dir / "mosquitto.conf"

    def command(self) -> list[str]:
        template = resources.files("iot_suitcase.servers").joinpath("mosquitto.conf").read_text()
        self.config_path.write_text(
            string.Template(template).substitute(
                host=self.host,
                port=self.port,
                user=getpass.getuser(),
                data_dir=self.data_dir,
                listeners=self.listeners(),
                autosave_interval=self.autosave_interval_s,
                extra_config=self.extra_config,
            )
        )
        return [shutil.which("mosquitto") or "/usr/sbin/mosquitto", "-c", str(self.config_path)]

    def listeners(self) -> str:
        service = None if self.service_port is None else Listener(self.service_port, "127.0.0.1")
        return listener_config(
            Listener(self.port, self.host), service, self.files, message_size_limit=self.message_size_limit
        )

    @property
    def ingest_port(self) -> int:
        """Where the ingest service connects: the service listener if there is one."""
        return self.service_port or self.port

    def is_ready(self) -> bool:
        return port_is_listening(self.host, self.port)
