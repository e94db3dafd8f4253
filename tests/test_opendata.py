"""Open data (#19): a municipality publishes a site and a counter; a real third-party SensorThings client
(Fraunhofer IOSB's frost-sta-client, from PyPI) lists the Things and Datastreams, follows @iot.nextLink and reads
Observations with a $filter on phenomenonTime, from the ingest service on real Mosquitto and InfluxDB; plain HTTP
checks every query option the server implements, and privacy: nothing unpublished, no single people count, no
reject or raw payload in any public answer."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import frost_sta_client as fsc
import pytest
import rdflib
from rdflib import Graph, Literal
from rdflib.compare import isomorphic

from iot_suitcase.devices.opendata.model import Choice, Scope
from iot_suitcase.devices.opendata.store import load_rules
from iot_suitcase.devices.registry import RegistryFile, make_spec
from iot_suitcase.ingest.console.accounts import Role
from iot_suitcase.servers import InfluxDB, Mosquitto
from tests.console import console
from tests.helpers import IngestProcess, publish_all, unique, wait_until

# the libraries' own warnings about their own code (furl's, under the client; rdflib's JSON-LD parser's)
pytestmark = [
    pytest.mark.filterwarnings("ignore:furl.pathstr is deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:ConjunctiveGraph is deprecated:DeprecationWarning"),
]
NOW = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
MANY = 2_500
HOURS = 5  # kit-1 reported every 20 minutes over the last five hours; cnt-1 counted people every 10 minutes


def fetch(url: str) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(url, timeout=30) as answer:
            return answer.status, dict(answer.headers.items()), answer.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers.items()), error.read()


def get(url: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


@pytest.fixture
def public(tmp_path: Path, mosquitto: Mosquitto, influxdb: InfluxDB, influx_db: str) -> Iterator[str]:
    """The open-data server of an installation that published site harbour and device cnt-1, with readings in
    place, and its ingest service beside it (with a reject of its own)."""
    with RegistryFile(tmp_path / "registry.yaml").edit() as registry:
        for spec in (
            {"id": "kit-1", "model": "native", "kind": "climate", "site": "harbour",
             "location": {"lat": 56.153456, "lon": 10.214567}},
            {"id": "kit-2", "model": "native", "kind": "climate", "site": "harbour"},
            {"id": "cnt-1", "model": "native", "kind": "counter", "site": "library",
             "location": {"lat": 56.157891, "lon": 10.208765}},
            {"id": "secret-1", "model": "native", "kind": "climate", "site": "town-hall"},
        ):  # fmt: skip
            registry.add(make_spec(spec))
    suitcase = [sys.executable, "-m", "iot_suitcase", "opendata"]
    env = {
        "SUITCASE_REGISTRY_FILE": str(tmp_path / "registry.yaml"),
        "SUITCASE_OPENDATA_FILE": str(tmp_path / "od.toml"),
    }
    for args in (["publish", "--site", "harbour"], ["publish", "--device", "cnt-1"],
                 ["licence", "CC-BY-4.0", "--attribution", "Aarhus Kommune"]):  # fmt: skip
        subprocess.run([*suitcase, *args], env={**env, "PATH": "/usr/bin:/bin"}, check=True, capture_output=True)
    lines = []
    for step in range(HOURS * 3):
        at = NOW - timedelta(minutes=20 * (step + 1))
        ns = int(at.timestamp() * 1e9)
        lines += [f"temperature,device=kit-1 value={10 + step / 10} {ns}", f"temperature,device=secret-1 value=99 {ns}"]
    for step in range(MANY):  # kit-2 every second: more points than one batch of a streamed download
        lines.append(
            f"humidity,device=kit-2 value={step % 100} {int((NOW - timedelta(seconds=step + 1)).timestamp() * 1e9)}"
        )
    for step in range(HOURS * 6):
        at = NOW - timedelta(minutes=10 * (step + 1))
        lines.append(f"people_count,device=cnt-1 value=3 {int(at.timestamp() * 1e9)}")
    influxdb.write(influx_db, lines)
    ingest = IngestProcess(
        tmp_path / "ingest.log",
        {
            "mqtt_host": mosquitto.host,
            "mqtt_port": str(mosquitto.port),
            "mqtt_client_id": unique("suitcase-ingest-"),
            "influx_url": influxdb.url,
            "influx_database": influx_db,
            "unknown_devices": "reject",
        },
    ).start()
    try:
        # a reject with a payload of its own, which must never be public
        publish_all(mosquitto.host, mosquitto.port, [("suitcase/kit-1/up", b'{"readings": {"secret-payload": 1}}')])
        wait_until(lambda: "secret-payload" in ingest.log() or "unknown_quantity" in ingest.log(), 10, "the reject")
        server = OpenDataServer(
            tmp_path / "opendata.log",
            {
                **env,
                "SUITCASE_INFLUX_URL": influxdb.url,
                "SUITCASE_INFLUX_DATABASE": influx_db,
                "SUITCASE_OPENDATA_PORT": "0",
                "SUITCASE_OPENDATA_RATE_PER_S": "1000",  # these tests ask quickly; the limits have tests of their own
                "SUITCASE_OPENDATA_TOTAL_RATE_PER_S": "1000",
            },
        )
        try:
            yield f"{server.url}/sta/v1.1"
        finally:
            server.stop()
    finally:
        ingest.terminate()


class OpenDataServer:
    """`suitcase opendata serve`, a process of its own, as in production."""

    def __init__(self, log_path: Path, settings: dict[str, str]) -> None:
        self.log_path = log_path
        environment = {k: v for k, v in os.environ.items() if not k.startswith("SUITCASE_")} | settings
        with log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "iot_suitcase", "opendata", "serve"], env=environment, stdout=log, stderr=log
            )
        try:  # a server that fails a check here is not left running
            wait_until(lambda: "open data listening" in self.log() or self.process.poll() is not None, 30, "it")
            assert self.process.poll() is None, self.log()
            host, port = re.findall(r"open data listening host=(\S+) port=(\d+)", self.log())[-1]
            self.url = f"http://{host}:{port}"
            yielding = min(19, os.getpriority(os.PRIO_PROCESS, 0) + 19)  # the default: yields the most
            assert os.getpriority(os.PRIO_PROCESS, self.process.pid) == yielding, "it yields the CPU to ingestion"
        except BaseException:
            self.process.kill()
            self.process.wait()
            raise

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        self.process.terminate()
        assert self.process.wait(timeout=10) == 0, self.log()


def test_a_third_party_client_reads_things_datastreams_and_filtered_observations(public: str) -> None:
    service = fsc.SensorThingsService(public)
    things = {thing.id for thing in service.things().query().list()}
    assert things == {"kit-1", "kit-2", "cnt-1"}, "published by site and by device; secret-1 is not"

    listed = service.datastreams().query().top(3).list()
    assert listed.next_link is not None, "server-driven paging"
    streams = {stream.id for stream in listed}  # iterating follows @iot.nextLink
    assert "kit-1~temperature" in streams
    assert "cnt-1~people_count" in streams
    assert not any(stream.startswith("secret-1") for stream in streams)

    since = (NOW - timedelta(hours=2)).isoformat().replace("+00:00", "Z")
    kit = service.datastreams().find("kit-1~temperature")
    recent = kit.get_observations().query().filter(f"phenomenonTime ge {since}").list()
    values = [observation.result for observation in recent]
    assert len(values) == 6, "two hours of readings every 20 minutes"
    assert all(value < 99 for value in values)


def test_every_query_option_over_plain_http(public: str) -> None:
    status, landing = get(public)
    assert status == 200
    assert {entry["name"] for entry in landing["value"]} >= {"Things", "Datastreams", "Observations"}
    assert "http://www.opengis.net/spec/iot_sensing/1.1/req/datamodel" in landing["serverSettings"]["conformance"]

    _, page = get(f"{public}/Things?$top=1&$skip=1&$count=true&$orderby=id%20desc")
    assert page["@iot.count"] == 3
    assert [thing["@iot.id"] for thing in page["value"]] == ["kit-1"]
    assert "$skip=2" in page["@iot.nextLink"]
    _, selected = get(f"{public}/Things('kit-1')?$select=id,name")
    assert selected == {"@iot.id": "kit-1", "name": "kit-1"}
    _, expanded = get(f"{public}/Things('kit-1')?$expand=Datastreams/ObservedProperty,Locations")
    assert {d["ObservedProperty"]["@iot.id"] for d in expanded["Datastreams"]} >= {"temperature", "humidity"}
    assert expanded["Locations"][0]["location"]["coordinates"] == [10.214567, 56.153456]
    _, filtered = get(f"{public}/Things?$filter=" + urllib.parse.quote("properties/site eq 'library'"))
    assert [thing["@iot.id"] for thing in filtered["value"]] == ["cnt-1"]
    square = "geography'POLYGON((10.2 56.15, 10.22 56.15, 10.22 56.155, 10.2 56.155, 10.2 56.15))'"
    _, within = get(f"{public}/Locations?$filter=" + urllib.parse.quote(f"st_within(location, {square})"))
    assert [place["@iot.id"] for place in within["value"]] == ["kit-1"], "cnt-1 is indoors: rounded out of it"
    near = "geo.distance(location, geography'POINT(10.2145 56.1535)') lt 0.001"
    _, close = get(f"{public}/Locations?$filter=" + urllib.parse.quote(near))
    assert [place["@iot.id"] for place in close["value"]] == ["kit-1"]
    _, stream = get(f"{public}/Datastreams('kit-1~temperature')")
    assert stream["unitOfMeasurement"]["symbol"] == "Cel"
    assert stream["properties"]["license"] == "https://creativecommons.org/licenses/by/4.0/"
    assert stream["properties"]["attribution"] == "Aarhus Kommune"

    observations = f"{public}/Datastreams('kit-1~temperature')/Observations"
    _, newest = get(f"{observations}?$orderby=phenomenonTime%20desc&$top=2&$count=true")
    assert newest["@iot.count"] == HOURS * 3
    first, second = (o["phenomenonTime"] for o in newest["value"])
    assert first > second
    _, high = get(f"{observations}?$filter=" + urllib.parse.quote("result ge 11.0"))
    assert all(o["result"] >= 11.0 for o in high["value"])
    assert len(high["value"]) == 5
    status, one = get(f"{public}/Observations('{newest['value'][0]['@iot.id']}')")
    assert status == 200
    assert one["result"] == newest["value"][0]["result"]

    for path, expected in (
        ("/Things?$filter=" + urllib.parse.quote("geo.intersects(location, geography'POINT(1 2)')"), 501),
        ("/Things?$expand=" + urllib.parse.quote("Datastreams($top=1)"), 501),
        ("/Things?$resultFormat=dataArray", 501),
        ("/Things?$top=many", 400),
        ("/Things?$bogus=1", 400),
        ("/Nothing", 404),
    ):
        status, body = get(f"{public}{path}")
        assert status == expected, path
        assert body["message"], path


def test_nothing_unpublished_no_single_count_and_no_reject_is_public(public: str) -> None:
    assert get(f"{public}/Things('secret-1')")[0] == 404
    assert get(f"{public}/Datastreams('secret-1~temperature')")[0] == 404
    assert get(f"{public}/Datastreams('secret-1~temperature')/Observations")[0] == 404
    _, counts = get(f"{public}/Datastreams('cnt-1~people_count')/Observations?$orderby=phenomenonTime%20asc")
    assert counts["value"], "the counter's hourly sums"
    assert {o["result"] for o in counts["value"][1:]} == {18.0}, "six counts of 3 an hour, never one count of 3"
    assert all("/" in o["phenomenonTime"] for o in counts["value"]), "each an hour's interval"
    texts = []
    for path in ("/Things", "/Datastreams", "/Observations?$top=1000", "/Locations", "/FeaturesOfInterest",
                 "/Sensors", "/ObservedProperties", "/HistoricalLocations"):  # fmt: skip
        status, body = get(f"{public}{path}")
        assert status == 200, path
        texts.append(json.dumps(body))
    everything = "".join(texts)
    assert "secret-1" not in everything
    assert "town-hall" not in everything
    assert "secret-payload" not in everything
    temperatures = [o["result"] for o in json.loads(texts[2])["value"] if "~temperature~" in o["@iot.id"]]
    assert temperatures
    assert 99.0 not in temperatures, "secret-1's readings"


def test_downloads_per_datastream_and_site_are_streamed_with_their_licence(public: str) -> None:
    base = public.removesuffix("/sta/v1.1") + "/opendata"
    status, headers, body = fetch(f"{base}/datastreams/kit-2~humidity.csv")
    assert status == 200
    assert headers["Link"] == '<https://creativecommons.org/licenses/by/4.0/>; rel="license"'
    rows = list(csv.DictReader(io.StringIO(body.decode())))
    assert len(rows) == MANY, "every point, through several batches of InfluxDB's chunked answer"
    assert rows[0]["time"] < rows[-1]["time"]
    assert {row["device"] for row in rows} == {"kit-2"}

    since = (NOW - timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    _, _, body = fetch(f"{base}/datastreams/kit-1~temperature.csv?from={since}")
    assert len(list(csv.DictReader(io.StringIO(body.decode())))) == 3

    status, headers, body = fetch(f"{base}/sites/library.json")
    assert status == 200
    document = json.loads(body)
    assert document["license"] == "https://creativecommons.org/licenses/by/4.0/"
    assert document["attribution"] == "Aarhus Kommune"
    people = [o for o in document["observations"] if o["quantity"] == "people_count"]
    assert people
    assert all(o["time_end"] > o["time"] for o in people), "hourly sums, never single counts"
    assert {o["value"] for o in people[1:]} == {18.0}

    _, _, harbour = fetch(f"{base}/sites/harbour.csv")
    assert {row["device"] for row in csv.DictReader(io.StringIO(harbour.decode()))} == {"kit-1", "kit-2"}
    for path in (
        "/datastreams/secret-1~temperature.csv",
        "/sites/town-hall.json",
        "/datastreams/kit-1~temperature.xml",
    ):
        assert fetch(f"{base}{path}")[0] == 404, path
    assert fetch(f"{base}/sites/harbour.csv?from=yesterday")[0] == 400


def test_the_dcat_catalogue_parses_in_both_forms_and_lists_exactly_the_published_datasets(public: str) -> None:
    """DCAT-AP's SHACL shapes could not be obtained here (no network access to the SEMIC repository): the
    catalogue is checked with rdflib, a real RDF library, for what those shapes require of each dataset and
    distribution that this catalogue sets."""
    dcat, dct, foaf, rdf = rdflib.DCAT, rdflib.DCTERMS, rdflib.FOAF, rdflib.RDF  # not module names: pytest
    base = public.removesuffix("/sta/v1.1") + "/opendata"  # would inspect them as test candidates
    _, headers, jsonld = fetch(f"{base}/catalog")
    assert headers["Content-Type"].startswith("application/ld+json")
    _, headers, turtle = fetch(f"{base}/catalog.ttl")
    assert headers["Content-Type"].startswith("text/turtle")
    graph = Graph().parse(data=jsonld, format="json-ld")
    assert isomorphic(graph, Graph().parse(data=turtle, format="turtle"))

    datasets = set(graph.subjects(rdf.type, dcat.Dataset))
    identifiers = {str(graph.value(dataset, dct.identifier)) for dataset in datasets}
    _, listed = get(f"{public}/Datastreams?$top=1000")
    assert identifiers == {stream["@iot.id"] for stream in listed["value"]}, "exactly the published streams"
    assert not any(identifier.startswith("secret-1") for identifier in identifiers)
    for dataset in datasets:
        assert graph.value(dataset, dct.title) is not None
        assert graph.value(dataset, dct.description) is not None
        assert graph.value(dataset, dct.publisher) is not None
        distributions = list(graph.objects(dataset, dcat.distribution))
        assert len(distributions) == 3
        for distribution in distributions:
            assert graph.value(distribution, dcat.accessURL) is not None
            assert str(graph.value(distribution, dct.license)) == "https://creativecommons.org/licenses/by/4.0/"
    for dataset in datasets:  # temporal coverage: its first and last public observation (a bucket where summed)
        key = str(graph.value(dataset, dct.identifier))
        period = graph.value(dataset, dct.temporal)
        if period is None:
            assert get(f"{public}/Datastreams('{key}')/Observations?$top=1")[1]["value"] == [], key
            continue
        start, end = graph.value(period, dcat.startDate), graph.value(period, dcat.endDate)
        assert isinstance(start, Literal)
        assert isinstance(end, Literal)
        assert start.toPython() < end.toPython()
        for when, order in ((start, "asc"), (end, "desc")):
            _, page = get(f"{public}/Datastreams('{key}')/Observations?$top=1&$orderby=phenomenonTime%20{order}")
            first = page["value"][0]["phenomenonTime"].split("/")[0]
            assert when.toPython() == datetime.fromisoformat(first), (key, order)
    assert {"kit-1~temperature", "cnt-1~people_count"} <= {str(graph.value(d, dct.identifier)) for d in datasets
                                                           if graph.value(d, dct.temporal) is not None}  # fmt: skip
    assert "POINT(10.214567 56.153456)" in turtle.decode()
    [catalogue] = graph.subjects(rdf.type, dcat.Catalog)
    assert str(graph.value(graph.value(catalogue, dct.publisher), foaf.name)) == "Aarhus Kommune"


def test_staff_publish_and_withdraw_in_the_console_and_see_how_each_stream_is_shown(
    tmp_path: Path, mosquitto: Mosquitto, influxdb: InfluxDB, influx_db: str
) -> None:
    """#19 point 1 in the browser's terms: an operator publishes a site and withdraws it again, the licence is
    set, the page shows each public stream with its privacy; a viewer sees the page and may change nothing."""
    with RegistryFile(tmp_path / "registry.yaml").edit() as registry:
        registry.add(make_spec({"id": "cnt-1", "model": "native", "kind": "counter", "site": "library"}))
    ingest = IngestProcess(
        tmp_path / "ingest.log",
        {
            "mqtt_host": mosquitto.host,
            "mqtt_port": str(mosquitto.port),
            "mqtt_client_id": unique("suitcase-ingest-"),
            "influx_url": influxdb.url,
            "influx_database": influx_db,
            "opendata_file": str(tmp_path / "opendata.toml"),
        },
    ).start()
    try:
        operator = console(ingest.http_url, tmp_path / "accounts.sqlite3", Role.OPERATOR)
        assert "Nothing is published." in operator.get("/open-data").text
        published = operator.post("/open-data/publish", {"csrf": operator.csrf(), "scope": "site", "value": "library"})
        assert published.status == 303
        operator.post("/open-data/licence", {"csrf": operator.csrf(), "licence": "CC0-1.0", "attribution": "Odder"})
        page = operator.get("/open-data").text
        assert "sum per 60 min" in page, "people counts as hourly sums"
        assert "mean per 60 min, 60 min late" in page, "occupancy indoors: late hourly means"
        assert "CC0-1.0" in page
        assert load_rules(tmp_path / "opendata.toml").choices == (Choice(Scope.SITE, "library"),)
        bad = operator.post("/open-data/publish", {"csrf": operator.csrf(), "scope": "quantity", "value": "nonsense"})
        assert bad.status == 400

        viewer = console(ingest.http_url, tmp_path / "accounts.sqlite3")
        assert "library" in viewer.get("/open-data").text
        refused = viewer.post("/open-data/withdraw", {"csrf": viewer.csrf(), "scope": "site", "value": "library"})
        assert refused.status == 403
        withdrawn = operator.post("/open-data/withdraw", {"csrf": operator.csrf(), "scope": "site", "value": "library"})
        assert withdrawn.status == 303
        assert load_rules(tmp_path / "opendata.toml").choices == ()
    finally:
        ingest.terminate()
