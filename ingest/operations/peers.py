"""Worker 0 of several (`suitcase ingest --workers N`) reports for all of them: the other workers' readiness,
asked every few seconds, joins its ``/readyz`` and the console's status; their ``/metrics``, asked at scrape
time, join its own in one exposition, every sample labelled with its worker; their device states, asked when
a page or ``/api/devices`` is, join its own (``status.merged``). A worker that does not answer is a reason not
to be ready and ``suitcase_worker_up{worker="<n>"} 0``: its share of the messages waits at the broker."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import aiohttp
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.parser import text_string_to_metric_families

from iot_suitcase.ingest.operations.status import BoardView

log = logging.getLogger(__name__)

ASK_EVERY_S = 2.0
TIMEOUT_S = 2.0
INTERNAL_PREFIX = "/internal/"  # what the workers of one service ask each other, with their own token only
BOARD_PATH = f"{INTERNAL_PREFIX}board"


@dataclass(frozen=True, slots=True)
class Peer:
    index: int
    url: str


class Peers:
    def __init__(self, urls: list[str], token: str | None) -> None:
        self._peers = [Peer(index, url.rstrip("/")) for index, url in enumerate(urls, start=1)]
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}
        # until first asked, a worker counts as not ready: worker 0 does not claim what it has not seen
        self._unready: dict[int, str] = {peer.index: "not asked yet" for peer in self._peers}
        self._session: aiohttp.ClientSession | None = None

    def __bool__(self) -> bool:
        return bool(self._peers)

    def problems(self) -> list[tuple[int, str]]:
        """(worker, why it is not ready) of every other worker that is not."""
        return sorted(self._unready.items())

    async def run(self) -> None:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT_S)) as session:
            self._session = session
            while True:
                answers = await asyncio.gather(*(self._readiness(peer) for peer in self._peers))
                for peer, why in zip(self._peers, answers, strict=True):
                    if why is None:
                        self._unready.pop(peer.index, None)
                    else:
                        if self._unready.get(peer.index) != why:
                            log.warning("worker not ready worker=%d reason=%s", peer.index, why)
                        self._unready[peer.index] = why
                await asyncio.sleep(ASK_EVERY_S)

    async def _readiness(self, peer: Peer) -> str | None:
        assert self._session is not None
        try:
            async with self._session.get(f"{peer.url}/readyz") as answer:
                if answer.status == 200:
                    return None
                problems = (await answer.json()).get("problems", [])
                return "; ".join(str(problem) for problem in problems) or f"readiness answered {answer.status}"
        except (aiohttp.ClientError, TimeoutError, ValueError) as error:
            return f"does not answer ({type(error).__name__})"

    async def metric_families(self) -> list[Metric]:
        """Every other worker's metrics as they are now (each labels its own), and whether it answered."""
        texts = await asyncio.gather(*(self._metrics_text(peer) for peer in self._peers))
        up = GaugeMetricFamily("suitcase_worker_up", "Whether a worker of this service answered.", labels=["worker"])
        up.add_metric(["0"], 1)
        families: list[Metric] = [up]
        for peer, text in zip(self._peers, texts, strict=True):
            up.add_metric([str(peer.index)], 0 if text is None else 1)
            if text is not None:
                families += text_string_to_metric_families(text)
        return families

    async def board_views(self) -> list[BoardView]:
        """What each other worker's board shows now; a worker that does not answer is left out (and not ready)."""
        answers = await asyncio.gather(*(self._board(peer) for peer in self._peers))
        return [view for view in answers if view is not None]

    async def _board(self, peer: Peer) -> BoardView | None:
        if self._session is None:
            return None
        try:
            async with self._session.get(f"{peer.url}{BOARD_PATH}", headers=self._headers) as answer:
                return BoardView.from_json(await answer.json()) if answer.status == 200 else None
        except (aiohttp.ClientError, TimeoutError, ValueError, KeyError, TypeError):
            return None

    async def _metrics_text(self, peer: Peer) -> str | None:
        if self._session is None:
            return None
        try:
            async with self._session.get(f"{peer.url}/metrics", headers=self._headers) as answer:
                return await answer.text() if answer.status == 200 else None
        except (aiohttp.ClientError, TimeoutError):
            return None


def merged_families(families: Iterable[Metric]) -> Iterator[Metric]:
    """One family per name, with the samples of all that bear it: an exposition may name a family once."""
    by_name: dict[str, Metric] = {}
    for family in families:
        if family.name in by_name:
            by_name[family.name].samples += family.samples
        else:
            by_name[family.name] = family
    return iter(by_name.values())
