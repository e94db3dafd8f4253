"""Real Mosquitto, InfluxDB and VictoriaMetrics for the tests (the logic lives in iot_suitcase.servers).

Session fixtures are shared and must not be stopped or killed by tests; a test that kills or
restarts a server takes its own from a factory.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from iot_suitcase.servers import InfluxDB, ManagedProcess, Mosquitto, VictoriaMetrics


@pytest.fixture(scope="session")
def mosquitto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mosquitto]:
    with Mosquitto(tmp_path_factory.mktemp("mosquitto")) as broker:
        yield broker


@pytest.fixture(scope="session")
def influxdb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InfluxDB]:
    with InfluxDB(tmp_path_factory.mktemp("influxdb")) as server:
        yield server


@pytest.fixture(scope="session")
def victoria(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VictoriaMetrics]:
    with VictoriaMetrics(tmp_path_factory.mktemp("victoria")) as server:
        yield server


@pytest.fixture
def influx_db(influxdb: InfluxDB) -> Iterator[str]:
    """A fresh, uniquely named database on the session InfluxDB, dropped after the test."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    influxdb.create_database(name)
    yield name
    influxdb.drop_database(name)


@pytest.fixture
def mosquitto_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., Mosquitto]]:
    """`make(**kwargs)` starts a private broker (Mosquitto's keyword arguments); all stop afterwards."""
    started: list[ManagedProcess] = []

    def make(**kwargs: Any) -> Mosquitto:
        broker = Mosquitto(tmp_path_factory.mktemp("mosquitto"), **kwargs)
        started.append(broker)
        return broker.start()

    yield make
    for process in started:
        process.stop()


@pytest.fixture
def influxdb_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., InfluxDB]]:
    """`make(**kwargs)` starts a private InfluxDB (InfluxDB's keyword arguments); all stop afterwards."""
    started: list[ManagedProcess] = []

    def make(**kwargs: Any) -> InfluxDB:
        server = InfluxDB(tmp_path_factory.mktemp("influxdb"), **kwargs)
        started.append(server)
        return server.start()

    yield make
    for process in started:
        process.stop()
