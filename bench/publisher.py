"""One publisher process: ``python -m bench.publisher`` encodes its shard, connects, says ``ready``, waits
for ``go`` on stdin, publishes everything at QoS 1 and prints its result as one JSON line.

Separate processes because one Python process cannot keep Mosquitto busy on its own; the ready/go
handshake starts all of them together with their messages already encoded, so the clock never times
message encoding or process start-up.
"""

from __future__ import annotations

import argparse
import json
import sys

from bench.fleet import FORMS, Shard
from bench.mqtt import Publisher


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.publisher")
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--client-id", required=True)
    parser.add_argument("--first", type=int, required=True, help="index of the shard's first device")
    parser.add_argument("--devices", type=int, required=True)
    parser.add_argument("--per-device", type=int, required=True)
    parser.add_argument("--base-ms", type=int, required=True, help="device time of every device's first message")
    parser.add_argument("--window", type=int, default=10_000, help="most unacknowledged messages at once")
    parser.add_argument("--form", choices=sorted(FORMS), default="native", help="topics and payloads (bench.fleet)")
    args = parser.parse_args(argv)
    packets = Shard(args.first, args.devices, args.per_device, args.base_ms, args.form).packets()
    publisher = Publisher(args.host, args.port, args.client_id, window=args.window)
    print("ready", flush=True)
    if sys.stdin.readline().strip() != "go":
        publisher.close()
        return 1
    result = publisher.publish_all(packets)
    publisher.close()
    print(
        json.dumps(
            {"sent": result.sent, "acked": result.acked, "started": result.started, "finished": result.finished}
        ),
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
