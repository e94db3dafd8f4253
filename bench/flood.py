"""A flood of one tenant's devices, in a process of its own: ``python -m bench.flood`` publishes native
messages under another topic root at a steady rate, so the benchmark process (the measured tenant's paced
publisher and its poller) shares no interpreter with it. Prints its result as one JSON line."""

from __future__ import annotations

import argparse
import json
import sys

from bench.fleet import payload, topic
from bench.mqtt import Publisher


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.flood")
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--root", required=True, help="the flooding tenant's topic root")
    parser.add_argument("--devices", type=int, required=True)
    parser.add_argument("--rate", type=float, required=True, help="messages per second")
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--base-ms", type=int, required=True, help="device time of every device's first message")
    args = parser.parse_args(argv)
    topics = [topic(d, args.root) for d in range(args.devices)]

    def make(index: int, _now_ns: int) -> tuple[bytes, bytes]:
        k = index // args.devices  # device d's k-th message is stamped base + k s: every point its own
        return topics[index % args.devices], payload(k, args.base_ms + k * 1000)

    publisher = Publisher(args.host, args.port, "bench-flood", window=10_000)
    result = publisher.publish_paced(make, rate=args.rate, count=args.count, timeout=120.0)
    publisher.close()
    print(json.dumps({"sent": result.sent, "acked": result.acked, "rate": round(result.rate)}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
