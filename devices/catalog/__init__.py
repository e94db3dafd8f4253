"""The sensor catalog: quantities, canonical units, plausible ranges, kinds."""

from iot_suitcase.devices.catalog.catalog import Catalog, Kind, Quantity, load_catalog, parse_catalog

__all__ = ["Catalog", "Kind", "Quantity", "load_catalog", "parse_catalog"]
