"""A query flood on the public side, in a process of its own: ``python -m bench.queryload`` runs ``--clients``
threads that each ask the open-data URLs one after another, as fast as they are answered, for ``--seconds``;
prints the answers' statuses and times as one JSON line."""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter

from bench.fleet import device_id


def urls(base: str, devices: int) -> list[str]:
    """What a GIS tool, a portal's harvester and a research script ask: observations, things, a download."""
    found = [f"{base}/sta/v1.1/Things?$top=100&$count=true", f"{base}/opendata/catalog"]
    for index in range(0, devices, max(1, devices // 10)):
        stream = f"{device_id(index)}~temperature"
        found += [
            f"{base}/sta/v1.1/Datastreams('{stream}')/Observations?$top=100&$orderby=phenomenonTime%20desc",
            f"{base}/opendata/datastreams/{stream}.csv",
        ]
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.queryload")
    parser.add_argument("--base", required=True, help="the ingest service's http://host:port")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--devices", type=int, required=True)
    args = parser.parse_args(argv)
    targets = urls(args.base, args.devices)
    statuses: Counter[int] = Counter()
    answered_ms: list[float] = []
    lock = threading.Lock()
    deadline = time.monotonic() + args.seconds

    def client(offset: int) -> None:
        index = offset
        while time.monotonic() < deadline:
            url = targets[index % len(targets)]
            index += 1
            began = time.monotonic()
            try:
                with urllib.request.urlopen(url, timeout=30) as answer:  # noqa: S310 (the benchmark's own service)
                    answer.read()
                    status = answer.status
            except urllib.error.HTTPError as error:
                status = error.code
            except OSError:
                status = 0
            with lock:
                statuses[status] += 1
                answered_ms.append((time.monotonic() - began) * 1000)

    threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(args.clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    answered_ms.sort()
    median = answered_ms[len(answered_ms) // 2] if answered_ms else 0.0
    result = {
        "requests": sum(statuses.values()),
        "statuses": dict(statuses),
        "median_ms": round(median, 1),
        "client_cpu_share": round(time.process_time() / args.seconds, 2),  # what the flood itself took of the CPU
    }
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
