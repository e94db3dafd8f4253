"""What is public right now, for every open-data route: the scope's rules, the streams they publish from the
registry, and the reader of their readings. Worked out again whenever the rules file or the registry changed
(a withdrawal takes effect at once), not per request: a flood then costs a ``stat`` per request, not a TOML
parse and a walk of every registered device."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from iot_suitcase.devices.catalog import Catalog
from iot_suitcase.devices.opendata.model import OpenDataRules
from iot_suitcase.devices.opendata.store import OpenDataError, load_rules
from iot_suitcase.devices.opendata.streams import Stream, published_streams
from iot_suitcase.devices.registry import Registry
from iot_suitcase.ingest.opendata.readings import PublicReadings

log = logging.getLogger(__name__)


class Published:
    def __init__(
        self, registry: Callable[[], Registry], catalog: Catalog, rules_file: Path, readings: PublicReadings
    ) -> None:
        self._registry = registry
        self._catalog = catalog
        self._rules_file = rules_file
        self.readings = readings
        self._made: tuple[object, Registry, tuple[OpenDataRules, list[Stream]]] | None = None

    def now(self) -> tuple[OpenDataRules, list[Stream]]:
        """The rules and the published streams; OpenDataError (logged) when the rules cannot be read."""
        stamp = self._rules_stamp()
        registry = self._registry()  # the same object until its file changes (RegistryReader)
        made = self._made
        if made is not None and made[0] == stamp and made[1] is registry:
            return made[2]
        try:
            rules = load_rules(self._rules_file)
        except OpenDataError as error:
            log.warning("open data not served: %s", error)
            raise
        found = rules, published_streams(registry, self._catalog, rules)
        self._made = (stamp, registry, found)
        return found

    def _rules_stamp(self) -> object:
        try:
            stat = self._rules_file.stat()
        except OSError:
            return None
        return stat.st_mtime_ns, stat.st_size, stat.st_ino
