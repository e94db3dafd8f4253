"""Writing line protocol to InfluxDB through its v1 or v2 write API, with errors classified for retry."""

from __future__ import annotations

import logging
from typing import Protocol

import aiohttp
from influxdb_client.client.influxdb_client_async import InfluxDBClientAsync
from influxdb_client.domain.write_precision import WritePrecision
from influxdb_client.rest import ApiException

from iot_suitcase.ingest.config import InfluxFlavour, IngestSettings

log = logging.getLogger(__name__)

# 400 is the only status that means "these lines are wrong" (bad syntax, field type conflict): retrying
# cannot help. Everything else (auth, missing database, 413, 429, 5xx, timeouts) can heal, so it is retried.
_REJECTED_STATUSES = {400}


class WriteError(Exception):
    """A write InfluxDB did not accept; ``retryable`` says whether trying again can succeed."""

    def __init__(self, status: int | None, message: str) -> None:
        super().__init__(f"InfluxDB write failed ({status or 'no answer'}): {message}")
        self.status = status
        self.message = message

    @property
    def retryable(self) -> bool:
        return self.status not in _REJECTED_STATUSES


class InfluxWriter(Protocol):
    async def start(self) -> None: ...
    async def write(self, body: str) -> None: ...
    async def close(self) -> None: ...


class V1Writer:
    """``POST /write?db=&rp=&precision=ns`` with optional basic auth (InfluxDB 1.x, v1 API of 2.x/3.x)."""

    def __init__(self, settings: IngestSettings) -> None:
        self._settings = settings
        self._url = settings.influx_url.rstrip("/")
        self._params = {"db": settings.influx_database, "precision": "ns"}
        if settings.influx_retention_policy:
            self._params["rp"] = settings.influx_retention_policy
        self._auth = None
        if settings.influx_username:
            password = settings.influx_password.get_secret_value() if settings.influx_password else ""
            self._auth = aiohttp.BasicAuth(settings.influx_username, password)
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        timeout = aiohttp.ClientTimeout(total=self._settings.write_timeout_s)
        self._session = aiohttp.ClientSession(timeout=timeout, auth=self._auth)
        if self._settings.influx_create_database:
            await self._create_database()

    async def _create_database(self) -> None:
        query = f'CREATE DATABASE "{self._settings.influx_database.replace(chr(34), "")}"'
        try:
            async with self._client.post(f"{self._url}/query", params={"q": query}) as response:
                if response.status != 200:
                    log.warning("could not create database status=%s body=%s", response.status, await response.text())
        except (aiohttp.ClientError, TimeoutError) as error:
            log.warning("could not create database (InfluxDB unreachable?) error=%r", error)

    @property
    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("writer not started")
        return self._session

    async def write(self, body: str) -> None:
        try:
            async with self._client.post(f"{self._url}/write", params=self._params, data=body.encode()) as response:
                if response.status != 204:
                    raise WriteError(response.status, (await response.text()).strip())
        except (aiohttp.ClientError, TimeoutError) as error:
            raise WriteError(None, repr(error)) from error

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


class V2Writer:
    """``POST /api/v2/write?org=&bucket=`` with a token, through influxdb-client's async API."""

    def __init__(self, settings: IngestSettings) -> None:
        self._settings = settings
        self._client: InfluxDBClientAsync | None = None

    async def start(self) -> None:
        token = self._settings.influx_token.get_secret_value() if self._settings.influx_token else ""
        self._client = InfluxDBClientAsync(
            url=self._settings.influx_url,
            token=token,
            org=self._settings.influx_org,
            timeout=int(self._settings.write_timeout_s * 1000),
        )
        self._write_api = self._client.write_api()

    async def write(self, body: str) -> None:
        try:
            await self._write_api.write(
                bucket=self._settings.bucket,
                org=self._settings.influx_org,
                record=body,
                write_precision=WritePrecision.NS,  # type: ignore[arg-type]  # a str constant, typed as the class
            )
        except ApiException as error:
            raise WriteError(error.status, str(error.body or error.reason).strip()) from error
        except (aiohttp.ClientError, TimeoutError) as error:
            raise WriteError(None, repr(error)) from error

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()  # type: ignore[no-untyped-call]


def make_writer(settings: IngestSettings) -> InfluxWriter:
    if settings.influx_flavour is InfluxFlavour.V2:
        return V2Writer(settings)
    return V1Writer(settings)
