"""The open-data catalogue in DCAT-AP (#19 point 4), for a national portal (Open Data DK) to harvest:
``/opendata/catalog`` in JSON-LD (``.jsonld``), and in Turtle (``.ttl``, or ``Accept: text/turtle``), the same
graph, converted by rdflib from the JSON-LD.

One dataset per published datastream, with its distributions (its SensorThings Datastream, its CSV and JSON
downloads), licence, publisher, spatial coverage (a WKT point, rounded like the Location), temporal coverage (its
first and last public reading), and update frequency (hourly for an aggregated stream, continuous otherwise).
Made at most every ``CACHE_S`` seconds: the temporal coverage costs two InfluxDB queries a quantity.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import OrderedDict
from typing import Any

from aiohttp import web
from rdflib import Graph

from iot_suitcase.devices.opendata.model import OpenDataRules
from iot_suitcase.devices.opendata.store import OpenDataError
from iot_suitcase.devices.opendata.streams import Stream, public_location
from iot_suitcase.ingest.opendata.answers import public
from iot_suitcase.ingest.opendata.published import Published
from iot_suitcase.ingest.opendata.readings import ReadingsUnavailable, from_ms, iso_time

CACHE_S = 300.0
BASES_KEPT = 4
JSON_LD = "application/ld+json"
TURTLE = "text/turtle"
CONTEXT = {
    "dcat": "http://www.w3.org/ns/dcat#",
    "dct": "http://purl.org/dc/terms/",
    "foaf": "http://xmlns.com/foaf/0.1/",
    "locn": "http://www.w3.org/ns/locn#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "gsp": "http://www.opengis.net/ont/geosparql#",
}
FREQUENCY = "http://publications.europa.eu/resource/authority/frequency/"
THEME = "http://publications.europa.eu/resource/authority/data-theme/ENVI"  # environment
MEDIA_TYPE = "https://www.iana.org/assignments/media-types/"


class Catalogue:
    """Answers the catalogue from what was made in the last ``CACHE_S`` seconds: the document and each of its
    texts (JSON-LD, Turtle) are made once per base address (at most ``BASES_KEPT`` of them, since the base
    comes from the request's Host), not per request; a harvester's or a flood's requests then cost a lookup."""

    def __init__(self, published: Published) -> None:
        self._published = published
        self._readings = published.readings
        self._made: OrderedDict[tuple[str, str], tuple[float, str]] = OrderedDict()  # (base, media) -> (at, text)

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/opendata/catalog", self.catalogue)
        app.router.add_get("/opendata/catalog.jsonld", self.catalogue)
        app.router.add_get("/opendata/catalog.ttl", self.turtle)

    async def catalogue(self, request: web.Request) -> web.Response:
        if "text/turtle" in request.headers.get("Accept", "") and request.path.endswith("/catalog"):
            return await self.turtle(request)
        return _answer(await self._text(request, JSON_LD), JSON_LD)

    async def turtle(self, request: web.Request) -> web.Response:
        return _answer(await self._text(request, TURTLE), TURTLE)

    async def _text(self, request: web.Request, media: str) -> str:
        base = f"{request.scheme}://{request.host}"
        made = self._fresh(base, media)
        if made is not None:
            return made[1]
        made = self._fresh(base, JSON_LD)
        if made is None:
            made = self._keep((base, JSON_LD), time.monotonic(), json.dumps(await self._document(base), indent=1))
        if media == TURTLE:  # as old as the JSON-LD it is made from
            made = self._keep((base, TURTLE), made[0], await asyncio.to_thread(_as_turtle, made[1]))
        return made[1]

    def _fresh(self, base: str, media: str) -> tuple[float, str] | None:
        made = self._made.get((base, media))
        return made if made is not None and time.monotonic() - made[0] < CACHE_S else None

    def _keep(self, key: tuple[str, str], at: float, text: str) -> tuple[float, str]:
        self._made[key] = (at, text)
        self._made.move_to_end(key)
        while len(self._made) > 2 * BASES_KEPT:
            self._made.popitem(last=False)
        return at, text

    async def _document(self, base: str) -> dict[str, Any]:
        try:
            rules, streams = await asyncio.to_thread(self._published.now)
        except OpenDataError:
            raise web.HTTPServiceUnavailable(text="the open-data settings cannot be read") from None
        try:
            spans = await self._readings.spans(streams)
        except ReadingsUnavailable:
            raise web.HTTPServiceUnavailable(text="the readings cannot be read right now; try again later") from None
        return catalogue_document(base, rules, streams, [spans.get(stream.key) for stream in streams])


def _as_turtle(json_ld: str) -> str:
    return Graph().parse(data=json_ld, format="json-ld").serialize(format="turtle")


def catalogue_document(
    base: str, rules: OpenDataRules, streams: list[Stream], spans: list[tuple[int, int] | None]
) -> dict[str, Any]:
    """The DCAT-AP catalogue as JSON-LD: every published stream a dataset, nothing else."""
    publisher = {"@id": f"{base}/opendata/catalog#publisher", "@type": "foaf:Agent",
                 "foaf:name": rules.attribution or rules.title or "iot-suitcase"}  # fmt: skip
    datasets = [_dataset(base, rules, stream, span, streams) for stream, span in zip(streams, spans, strict=True)]
    return {
        "@context": CONTEXT,
        "@id": f"{base}/opendata/catalog",
        "@type": "dcat:Catalog",
        "dct:title": {"@value": f"Sensor data of {publisher['foaf:name']}", "@language": "en"},
        "dct:description": {"@value": "Readings of municipal sensors, published as open data.", "@language": "en"},
        "dct:publisher": publisher,
        "dct:license": {"@id": rules.licence_url},
        "foaf:homepage": {"@id": f"{base}/sta/v1.1"},
        "dcat:dataset": datasets,
    }


def _dataset(
    base: str, rules: OpenDataRules, stream: Stream, span: tuple[int, int] | None, streams: list[Stream]
) -> dict[str, Any]:
    device, quantity, privacy = stream.device, stream.quantity, stream.privacy
    identifier = f"{base}/opendata/datasets/{stream.key}"
    sta = f"{base}/sta/v1.1/Datastreams('{stream.key}')"
    downloads = f"{base}/opendata/datastreams/{stream.key}"
    distributions = [
        _distribution(f"{identifier}#sta", "SensorThings API Datastream", sta, "application/json", rules),
        _distribution(f"{identifier}#csv", "CSV download", f"{downloads}.csv", "text/csv", rules),
        _distribution(f"{identifier}#json", "JSON download", f"{downloads}.json", "application/json", rules),
    ]
    dataset: dict[str, Any] = {
        "@id": identifier,
        "@type": "dcat:Dataset",
        "dct:identifier": stream.key,
        "dct:title": {"@value": f"{quantity.label()}, {device.name} ({device.site})", "@language": "en"},
        "dct:description": {"@value": quantity.description, "@language": "en"},
        "dct:publisher": {"@id": f"{base}/opendata/catalog#publisher"},
        "dcat:keyword": [quantity.name, device.site],
        "dcat:theme": {"@id": THEME},
        "dct:accrualPeriodicity": {"@id": FREQUENCY + ("HOURLY" if privacy.aggregated else "UPDATE_CONT")},
        "dcat:distribution": distributions,
    }
    place = public_location(device, streams, rules)
    if place is not None:
        point = {"@value": f"POINT({place.lon} {place.lat})", "@type": "gsp:wktLiteral"}
        dataset["dct:spatial"] = {"@type": "dct:Location", "locn:geometry": point}
    if span is not None:
        dataset["dct:temporal"] = {
            "@type": "dct:PeriodOfTime",
            "dcat:startDate": {"@value": _when(span[0]), "@type": "xsd:dateTime"},
            "dcat:endDate": {"@value": _when(span[1]), "@type": "xsd:dateTime"},
        }
    return dataset


def _distribution(identifier: str, title: str, url: str, media: str, rules: OpenDataRules) -> dict[str, Any]:
    return {
        "@id": identifier,
        "@type": "dcat:Distribution",
        "dct:title": {"@value": title, "@language": "en"},
        "dcat:accessURL": {"@id": url},
        "dcat:mediaType": {"@id": MEDIA_TYPE + media},
        "dct:license": {"@id": rules.licence_url},
    }


def _when(ms: int) -> str:
    return iso_time(from_ms(ms))


def _answer(text: str, content_type: str) -> web.Response:
    response = web.Response(text=text, content_type=content_type)
    public(response)
    response.headers["Cache-Control"] = f"public, max-age={int(CACHE_S)}"
    return response
