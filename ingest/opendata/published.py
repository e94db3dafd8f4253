"""What is public right now, for every open-data route: the scope's rules, read afresh on each request (a
withdrawal takes effect at once; the file is a few lines), the streams they publish from the registry, and the
reader of their readings."""

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

    def now(self) -> tuple[OpenDataRules, list[Stream]]:
        """The rules and the published streams; OpenDataError (logged) when the rules cannot be read."""
        try:
            rules = load_rules(self._rules_file)
        except OpenDataError as error:
            log.warning("open data not served: %s", error)
            raise
        return rules, published_streams(self._registry(), self._catalog, rules)
