"""OGC SensorThings API v1.1 (part 1: Sensing), read-only, at ``/sta/v1.1``: the published open data (#19).

Mapped onto the registry and InfluxDB: a published device is a Thing (its id is the device id), its mounting
point a Location (rounded for indoor devices) with one HistoricalLocation (when it was registered) and a
FeatureOfInterest, its model a Sensor, a catalog quantity an ObservedProperty (unit as a UCUM code), each
published (device, quantity) a Datastream (``kit-1~temperature``), and its readings Observations, read from
InfluxDB as the stream's privacy allows (sums or means per bucket, delayed). Nothing unpublished is reachable:
an unpublished id is 404 like one that does not exist.

Implemented: entity sets, entities by id, navigation one level down (``Things('kit-1')/Datastreams``),
``$top`` ``$skip`` ``$count`` with ``@iot.nextLink`` paging, ``$orderby``, ``$select``, ``$expand`` (nested with
``/``, no options inside), and ``$filter`` as filters.py says (comparisons, ``st_within``, ``geo.distance``).
Answered 501, as the standard asks: other functions in ``$filter``, options inside ``$expand``, ``$resultFormat``,
property paths and ``$value``, deeper paths, and the FeatureOfInterest -> Observations navigation. The landing
page claims the conformance classes met in full.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from aiohttp import web

from iot_suitcase.devices.opendata.model import OpenDataRules
from iot_suitcase.devices.opendata.store import OpenDataError
from iot_suitcase.devices.opendata.streams import Stream, public_location
from iot_suitcase.devices.opendata.units import ucum_code
from iot_suitcase.devices.registry import Device
from iot_suitcase.ingest.opendata.answers import public, public_error, public_json
from iot_suitcase.ingest.opendata.cache import AnswerCache
from iot_suitcase.ingest.opendata.filters import Expression, FilterError, matches, parse
from iot_suitcase.ingest.opendata.published import Published
from iot_suitcase.ingest.opendata.readings import ReadingsUnavailable, conditions, from_ms, iso_time, point_times

log = logging.getLogger(__name__)

BASE = "/sta/v1.1"
PAGE = 100  # server-driven paging: at most this many entities per response unless $top asks fewer
MAX_TOP = 1000
CONFORMANCE = (
    "http://www.opengis.net/spec/iot_sensing/1.1/req/datamodel",
    "http://www.opengis.net/spec/iot_sensing/1.1/req/resource-path/resource-path-to-entities",
)
QUERY_OPTIONS = ("$top", "$skip", "$count", "$orderby", "$select", "$expand", "$filter")
MEASUREMENT = "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement"
# entity set -> navigation property -> (target set, is it one entity)
NAVIGATION: dict[str, dict[str, tuple[str, bool]]] = {
    "Things": {
        "Locations": ("Locations", False),
        "HistoricalLocations": ("HistoricalLocations", False),
        "Datastreams": ("Datastreams", False),
    },
    "Locations": {"Things": ("Things", False), "HistoricalLocations": ("HistoricalLocations", False)},
    "HistoricalLocations": {"Thing": ("Things", True), "Locations": ("Locations", False)},
    "Datastreams": {
        "Thing": ("Things", True),
        "Sensor": ("Sensors", True),
        "ObservedProperty": ("ObservedProperties", True),
        "Observations": ("Observations", False),
    },
    "Sensors": {"Datastreams": ("Datastreams", False)},
    "ObservedProperties": {"Datastreams": ("Datastreams", False)},
    "Observations": {"Datastream": ("Datastreams", True), "FeatureOfInterest": ("FeaturesOfInterest", True)},
    "FeaturesOfInterest": {"Observations": ("Observations", False)},
}
_PATH = re.compile(r"^(?P<set>[A-Za-z]+)(?:\((?P<id>'(?:[^']|'')*'|\d+)\))?(?:/(?P<nav>[A-Za-z]+))?$")
# Public vocabulary entries for the quantities that have one (QUDT quantity kinds); others get the catalog's.
VOCABULARY = {
    "temperature": "http://qudt.org/vocab/quantitykind/Temperature",
    "external_temperature": "http://qudt.org/vocab/quantitykind/Temperature",
    "humidity": "http://qudt.org/vocab/quantitykind/RelativeHumidity",
    "pressure": "http://qudt.org/vocab/quantitykind/Pressure",
    "illuminance": "http://qudt.org/vocab/quantitykind/Illuminance",
    "wind_speed": "http://qudt.org/vocab/quantitykind/Speed",
    "battery_voltage": "http://qudt.org/vocab/quantitykind/Voltage",
}


class StaError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class Options:
    top: int
    skip: int
    count: bool
    orderby: list[tuple[str, bool]]  # (property, descending)
    select: set[str] | None
    expand: list[list[str]]  # each a path of navigation properties
    filter: Expression | None


def options(query: dict[str, str]) -> Options:
    unknown = [key for key in query if key.startswith("$") and key not in QUERY_OPTIONS]
    if unknown:
        status = 501 if unknown[0] in ("$resultFormat", "$search", "$format") else 400
        raise StaError(status, f"the query option {unknown[0]} is not {'implemented' if status == 501 else 'known'}")
    try:
        top = min(int(query.get("$top", PAGE)), MAX_TOP)
        skip = int(query.get("$skip", 0))
    except ValueError:
        raise StaError(400, "$top and $skip are whole numbers") from None
    if top < 0 or skip < 0:
        raise StaError(400, "$top and $skip cannot be negative")
    count = query.get("$count", "false")
    if count not in ("true", "false"):
        raise StaError(400, "$count is true or false")
    orderby = []
    for part in filter(None, (p.strip() for p in query.get("$orderby", "").split(","))):
        name, _, direction = part.partition(" ")
        if direction.strip() not in ("", "asc", "desc"):
            raise StaError(400, f"$orderby: {part!r} is not 'property [asc|desc]'")
        orderby.append((name, direction.strip() == "desc"))
    select = {p.strip() for p in query["$select"].split(",") if p.strip()} if "$select" in query else None
    expand = []
    for part in filter(None, (p.strip() for p in query.get("$expand", "").split(","))):
        if "(" in part:
            raise StaError(501, "query options inside $expand are not implemented")
        expand.append(part.split("/"))
    try:
        expression = parse(query["$filter"]) if "$filter" in query else None
    except FilterError as error:
        raise StaError(501 if error.not_implemented else 400, str(error)) from None
    return Options(top, skip, count == "true", orderby, select, expand, expression)


class Snapshot:
    """The public entities as they are now: what the registry, the catalog and the open-data rules give."""

    def __init__(self, rules: OpenDataRules, streams: list[Stream], base: str) -> None:
        self.rules = rules
        self.base = base
        self.streams = {stream.key: stream for stream in streams}
        self.devices = {stream.device.id: stream.device for stream in self.streams.values()}
        listed = list(self.streams.values())
        self.locations = {
            device.id: place
            for device in self.devices.values()
            if (place := public_location(device, listed, rules)) is not None
        }

    def link(self, entity_set: str, key: str) -> str:
        return f"{self.base}/{entity_set}('{key}')"

    def _entity(self, entity_set: str, key: str, body: dict[str, Any]) -> dict[str, Any]:
        entity = {"@iot.id": key, "@iot.selfLink": self.link(entity_set, key), **body}
        for name in NAVIGATION[entity_set]:
            entity[f"{name}@iot.navigationLink"] = f"{self.link(entity_set, key)}/{name}"
        return entity

    def _licence(self) -> dict[str, str]:
        return {"license": self.rules.licence_url, "attribution": self.rules.attribution}

    def thing(self, device: Device) -> dict[str, Any]:
        properties = {"site": device.site, "kind": device.kind or "", **self._licence()}
        return self._entity("Things", device.id, {"name": device.name, "description": device.name,
                                                  "properties": properties})  # fmt: skip

    def location(self, device: Device) -> dict[str, Any]:
        place = self.locations[device.id]
        return self._entity(
            "Locations",
            device.id,
            {
                "name": device.site,
                "description": f"where {device.name} is mounted",
                "encodingType": "application/geo+json",
                "location": {"type": "Point", "coordinates": [place.lon, place.lat]},
            },
        )

    def historical_location(self, device: Device) -> dict[str, Any]:
        return self._entity("HistoricalLocations", device.id, {"time": iso_time(device.created)})

    def feature(self, device: Device) -> dict[str, Any]:
        place = self.locations.get(device.id)
        geometry = {"type": "Point", "coordinates": [place.lon, place.lat]} if place else None
        return self._entity(
            "FeaturesOfInterest",
            device.id,
            {"name": device.site, "description": f"what {device.name} measures",
             "encodingType": "application/geo+json", "feature": geometry},
        )  # fmt: skip

    def sensor(self, model: str) -> dict[str, Any]:
        return self._entity(
            "Sensors",
            model.replace("/", "~"),
            {"name": model, "description": f"devices of model {model}", "encodingType": "text/plain",
             "metadata": model},
        )  # fmt: skip

    def observed_property(self, stream: Stream) -> dict[str, Any]:
        quantity = stream.quantity
        definition = VOCABULARY.get(quantity.name, f"urn:iot-suitcase:quantity:{quantity.name}")
        return self._entity(
            "ObservedProperties",
            quantity.name,
            {"name": quantity.label(), "definition": definition, "description": quantity.description},
        )

    def datastream(self, stream: Stream) -> dict[str, Any]:
        quantity, privacy = stream.quantity, stream.privacy
        properties: dict[str, Any] = {"aggregation": privacy.treatment, **self._licence()}
        if privacy.aggregated:
            properties |= {"bucket_s": privacy.bucket_s, "delay_s": privacy.delay_s}
        return self._entity(
            "Datastreams",
            stream.key,
            {
                "name": f"{quantity.label()}, {stream.device.name}",
                "description": quantity.description,
                "observationType": MEASUREMENT,
                "unitOfMeasurement": {
                    "name": quantity.unit,
                    "symbol": ucum_code(quantity.unit),
                    "definition": "http://unitsofmeasure.org/ucum.html",
                },
                "properties": properties,
            },
        )

    def observation(self, stream: Stream, at_ms: int, value: float) -> dict[str, Any]:
        start, end = point_times(stream, at_ms)  # an aggregated point is its bucket's interval
        body = {"phenomenonTime": f"{start}/{end}" if end else start, "resultTime": end or start, "result": value}
        return self._entity("Observations", f"{stream.key}~{at_ms}", body)

    def collection(self, entity_set: str) -> list[dict[str, Any]]:
        """Every entity of a set but Observations, in id order."""
        devices = sorted(self.devices.values(), key=lambda d: d.id)
        placed = [d for d in devices if d.id in self.locations]
        first = {s.quantity.name: s for s in self.streams.values()}
        made: dict[str, Callable[[], list[dict[str, Any]]]] = {
            "Things": lambda: [self.thing(d) for d in devices],
            "Locations": lambda: [self.location(d) for d in placed],
            "HistoricalLocations": lambda: [self.historical_location(d) for d in placed],
            "FeaturesOfInterest": lambda: [self.feature(d) for d in devices],
            "Sensors": lambda: [self.sensor(model) for model in sorted({d.model for d in devices})],
            "ObservedProperties": lambda: [self.observed_property(first[name]) for name in sorted(first)],
            "Datastreams": lambda: [self.datastream(s) for s in self.streams.values()],
        }
        if entity_set in made:
            return made[entity_set]()
        raise StaError(404, f"no entity set {entity_set}")

    def related(self, entity_set: str, key: str, nav: str) -> list[dict[str, Any]]:
        """The entities a navigation property of one entity leads to (but Observations)."""
        if entity_set in ("Things", "Locations", "HistoricalLocations", "FeaturesOfInterest"):
            device = self.devices[key]
            if nav == "Datastreams":
                return [self.datastream(s) for s in self.streams.values() if s.device.id == key]
            if nav in ("Locations", "HistoricalLocations"):
                return [e for e in self.collection(nav) if e["@iot.id"] == device.id]
            return [self.thing(device)]  # Things, Thing
        if entity_set == "Datastreams":
            stream = self.streams[key]
            made = {"Thing": lambda: self.thing(stream.device), "Sensor": lambda: self.sensor(stream.device.model),
                    "ObservedProperty": lambda: self.observed_property(stream)}  # fmt: skip
            return [made[nav]()]
        if entity_set == "Sensors":
            return [self.datastream(s) for s in self.streams.values() if s.device.model.replace("/", "~") == key]
        if entity_set == "ObservedProperties":
            return [self.datastream(s) for s in self.streams.values() if s.quantity.name == key]
        raise StaError(501, f"{entity_set}/{nav} is not implemented")

    def exists(self, entity_set: str, key: str) -> bool:
        return any(entity["@iot.id"] == key for entity in self.collection(entity_set))


class SensorThings:
    """The routes of the public API."""

    def __init__(self, published: Published, cache: AnswerCache | None = None) -> None:
        self._published = published
        self._readings = published.readings
        self._cache = cache or AnswerCache()
        self._snapshot_made: tuple[tuple[OpenDataRules, list[Stream]], Snapshot] | None = None

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get(BASE, self.landing)
        app.router.add_get(BASE + "/", self.landing)
        app.router.add_get(BASE + "/{path:.+}", self.resource)

    def _snapshot(self, request: web.Request) -> Snapshot:
        """The entities as they are now: made again only when what is published changed (or for another base)."""
        try:
            published = self._published.now()
        except OpenDataError:
            raise StaError(503, "the open-data settings cannot be read; the operator is told") from None
        base = f"{request.scheme}://{request.host}{BASE}"
        made = self._snapshot_made
        if made is not None and made[0] is published and made[1].base == base:
            return made[1]
        snapshot = Snapshot(*published, base)
        self._snapshot_made = (published, snapshot)
        return snapshot

    async def landing(self, request: web.Request) -> web.Response:
        base = f"{request.scheme}://{request.host}{BASE}"
        sets = [{"name": name, "url": f"{base}/{name}"} for name in NAVIGATION]
        settings = {"conformance": list(CONFORMANCE), "iot-suitcase:queryOptions": list(QUERY_OPTIONS)}
        return public_json({"value": sets, "serverSettings": settings})

    async def resource(self, request: web.Request) -> web.Response:
        key = f"{request.host}{request.path_qs}"
        body = self._cache.get(key)
        try:
            if body is None:
                body = json.dumps(await self._resource(request)).encode()
                self._cache.put(key, body)
            response = web.Response(body=body, content_type="application/json")
            response.headers["Cache-Control"] = f"public, max-age={int(self._cache.ttl_s)}"
            return public(response)
        except StaError as error:
            return public_error(error.status, str(error))
        except ReadingsUnavailable as error:
            log.warning("open data: InfluxDB did not answer: %s", error)
            return public_error(503, "the readings cannot be read right now; try again later")

    async def _resource(self, request: web.Request) -> dict[str, Any]:
        found = _PATH.match(request.match_info["path"])
        if found is None:
            raise StaError(501, "only entity sets, entities and one navigation step are implemented")
        entity_set, raw_id, nav = found.group("set"), found.group("id"), found.group("nav")
        if entity_set not in NAVIGATION:
            raise StaError(404, f"no entity set {entity_set}")
        opts = options(dict(request.query))
        snapshot = await asyncio.to_thread(self._snapshot, request)
        if raw_id is None:
            if nav is not None:
                raise StaError(400, "a navigation property follows an entity, not a set")
            return await self._page(request, snapshot, entity_set, opts)
        key = raw_id[1:-1].replace("''", "'") if raw_id.startswith("'") else raw_id
        if not await self._exists(snapshot, entity_set, key):
            raise StaError(404, f"no {entity_set}({raw_id})")
        if nav is None:
            [entity] = (await self._page(request, snapshot, entity_set, opts, key=key, single=True))["value"]
            return dict(entity)
        if nav not in NAVIGATION[entity_set]:
            raise StaError(501 if nav[:1].islower() else 404, f"{entity_set} has no navigation property {nav}")
        target, single = NAVIGATION[entity_set][nav]
        page = await self._page(request, snapshot, target, opts, parent=(entity_set, key, nav))
        if single:
            if not page["value"]:
                raise StaError(404, f"{entity_set}({raw_id})/{nav} is empty")
            return dict(page["value"][0])
        return page

    async def _exists(self, snapshot: Snapshot, entity_set: str, key: str) -> bool:
        if entity_set != "Observations":
            return snapshot.exists(entity_set, key)
        stream_key, _, at = key.rpartition("~")
        stream = snapshot.streams.get(stream_key)
        return stream is not None and at.isdecimal() and bool(await self._observation(stream, int(at)))

    async def _observation(self, stream: Stream, at_ms: int) -> list[tuple[int, float]]:
        moment = iso_time(from_ms(at_ms))
        where = conditions(parse(f"phenomenonTime ge {moment} and phenomenonTime le {moment}"))
        return await self._readings.page(stream, where, descending=False, limit=1, offset=0)

    async def _page(
        self,
        request: web.Request,
        snapshot: Snapshot,
        entity_set: str,
        opts: Options,
        *,
        key: str | None = None,
        parent: tuple[str, str, str] | None = None,
        single: bool = False,
    ) -> dict[str, Any]:
        if entity_set == "Observations":
            entities, total, more = await self._observations(snapshot, key, parent, opts, single)
        else:
            if parent is not None:
                everything = snapshot.related(*parent)
            else:
                everything = snapshot.collection(entity_set)
                everything = [e for e in everything if key is None or e["@iot.id"] == key]
            if opts.filter is not None and not single:
                everything = [e for e in everything if matches(opts.filter, e)]
            for name, descending in reversed(opts.orderby):
                everything.sort(key=_sorting(name), reverse=descending)
            total = len(everything)
            entities = everything if single else everything[opts.skip : opts.skip + opts.top]
            more = not single and opts.skip + opts.top < total
        for entity in entities:
            await self._expand(request, snapshot, entity_set, entity, opts.expand)
        shown = [_selected(entity, opts.select) for entity in entities]
        page: dict[str, Any] = {}
        if opts.count and total is not None:
            page["@iot.count"] = total
        if more:
            query = dict(request.query) | {"$skip": str(opts.skip + opts.top), "$top": str(opts.top)}
            encoded = urlencode(query, safe="$,'()/:", quote_via=quote)  # $skip=100, as the standard writes it
            page["@iot.nextLink"] = f"{request.scheme}://{request.host}{request.path}?{encoded}"
        page["value"] = shown
        return page

    async def _observations(
        self, snapshot: Snapshot, key: str | None, parent: tuple[str, str, str] | None, opts: Options, single: bool
    ) -> tuple[list[dict[str, Any]], int | None, bool]:
        """A page of observations: of one stream (a Datastream's), or of every published stream one after
        another (the whole set, ordered by Datastream, then as $orderby says)."""
        if parent is not None and parent[0] != "Datastreams":
            raise StaError(501, f"{parent[0]}/{parent[2]} is not implemented: go through its Datastreams")
        if single and key is not None:
            stream_key, _, at = key.rpartition("~")
            stream = snapshot.streams[stream_key]
            return (
                [snapshot.observation(stream, *point) for point in await self._observation(stream, int(at))],
                1,
                False,
            )
        descending = False
        for name, down in opts.orderby:
            if name not in ("phenomenonTime", "resultTime"):
                raise StaError(501, f"$orderby {name} on Observations is not implemented (phenomenonTime is)")
            descending = down
        where = conditions(opts.filter)
        streams = [snapshot.streams[parent[1]]] if parent is not None else list(snapshot.streams.values())
        found: list[dict[str, Any]] = []
        skip, wanted, total = opts.skip, opts.top + 1, 0  # one more than asked: is there a next page?
        for stream in streams:
            if len(streams) > 1 or opts.count:
                count = await self._readings.count(stream, where)
                total += count
                if skip >= count:
                    skip -= count
                    continue
            if len(found) < wanted:
                points = await self._readings.page(
                    stream, where, descending=descending, limit=wanted - len(found), offset=skip
                )
                found += [snapshot.observation(stream, *point) for point in points]
                skip = 0
        more = len(found) > opts.top
        return found[: opts.top], (total if opts.count else None), more

    async def _expand(
        self, request: web.Request, snapshot: Snapshot, entity_set: str, entity: dict[str, Any], paths: list[list[str]]
    ) -> None:
        for path in paths:
            nav = path[0]
            if nav not in NAVIGATION[entity_set]:
                raise StaError(400, f"$expand: {entity_set} has no navigation property {nav}")
            target, single = NAVIGATION[entity_set][nav]
            plain = Options(PAGE, 0, False, [], None, [path[1:]] if len(path) > 1 else [], None)
            page = await self._page(request, snapshot, target, plain, parent=(entity_set, str(entity["@iot.id"]), nav))
            if single:
                entity[nav] = page["value"][0] if page["value"] else None
            else:
                entity[nav] = page["value"]
                if "@iot.nextLink" in page:
                    entity[f"{nav}@iot.nextLink"] = f"{entity[f'{nav}@iot.navigationLink']}?$skip={PAGE}"


def _sorting(name: str) -> Callable[[dict[str, Any]], tuple[int, Any]]:
    """$orderby's key for one property: entities without it (or with a structure there) last."""

    def key(entity: dict[str, Any]) -> tuple[int, Any]:
        value = entity.get("@iot.id" if name == "id" else name)
        return (0, value) if isinstance(value, (str, int, float)) else (1, "")

    return key


def _selected(entity: dict[str, Any], select: set[str] | None) -> dict[str, Any]:
    if select is None:
        return entity
    wanted = {"@iot.id" if name == "id" else "@iot.selfLink" if name == "selfLink" else name for name in select}
    return {key: value for key, value in entity.items() if key.split("@iot.")[0] in wanted or key in wanted}
