"""A real Mosquitto broker on a private loopback port, with its own config, persistence and log."""

from __future__ import annotations

import getpass
import shutil
import string
from importlib import resources
from pathlib import Path

from suitcase.stack.processes import ManagedProcess, port_is_listening


class Mosquitto(ManagedProcess):
    """Mosquitto 2.x with persistence and unlimited per-client queues (see mosquitto.conf).

    The port is chosen once, so clients reconnect to the same address after a restart, and the
    persistence file in `data_dir` carries sessions and queued messages across clean restarts.
    """

    name = "mosquitto"

    def __init__(
        self, data_dir: Path, *, port: int | None = None, host: str = "127.0.0.1", extra_config: str = ""
    ) -> None:
        super().__init__(data_dir, host=host, port=port)
        self.extra_config = extra_config

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    @property
    def config_path(self) -> Path:
        return self.data_dir / "mosquitto.conf"

    def command(self) -> list[str]:
        template = resources.files("suitcase.stack").joinpath("mosquitto.conf").read_text()
        self.config_path.write_text(
            string.Template(template).substitute(
                host=self.host,
                port=self.port,
                user=getpass.getuser(),
                data_dir=self.data_dir,
                extra_config=self.extra_config,
            )
        )
        return [shutil.which("mosquitto") or "/usr/sbin/mosquitto", "-c", str(self.config_path)]

    def is_ready(self) -> bool:
        return port_is_listening(self.host, self.port)
