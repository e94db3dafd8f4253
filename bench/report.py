"""The results as JSON and as one Markdown table; issue #9's targets are reported as met or not, never asserted."""

from __future__ import annotations

from typing import Any

DRAIN_TARGET_MSG_S = 25_000
LATENCY_TARGET_P99_MS = 500.0
MEMORY_TARGET_MB = 200.0  # MB = 10^6 bytes
MEMORY_FLAT_GROWTH_PERCENT = 10.0  # "flat": the second half of the drain peaks at most this much above the first
REGISTRY_TARGET_S = 2.0
CONSOLE_TARGET_S = 1.0
NONE = "\u2014"  # an empty cell


def _n(value: float) -> str:
    return f"{value:,.0f}"


def _share(value: float, limit: float | None) -> str:
    return f"{100 * value / limit:.0f} %" if limit else NONE


def _met(ok: bool) -> str:
    return "met" if ok else "**not met**"


PEERS_TARGET = 1.2  # issue #20: one process at least 1.2x Node-RED's pause-and-drain rate


def targets(scenarios: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target of issue #9 whose scenario ran: what was asked, what was measured, met or not."""
    found = []
    if "drain" in scenarios:
        drain = scenarios["drain"]
        found.append(
            {
                "name": "drain, one ingest process",
                "target": f">= {_n(DRAIN_TARGET_MSG_S)} msg/s",
                "measured": f"{_n(drain['msg_s'])} msg/s",
                "met": drain["msg_s"] >= DRAIN_TARGET_MSG_S and drain["loss"] == 0,
            }
        )
    if "latency" in scenarios:
        latency = scenarios["latency"]
        p99 = latency["latency_ms"].get("p99", float("inf"))
        found.append(
            {
                "name": f"latency p99 at {_n(latency['rate_target'])} msg/s",
                "target": f"<= {LATENCY_TARGET_P99_MS:.0f} ms",
                "measured": f"{p99:.0f} ms",
                "met": p99 <= LATENCY_TARGET_P99_MS and latency["loss"] == 0 and latency["not_observed"] == 0,
            }
        )
    if "memory" in scenarios:
        rss = scenarios["memory"]["rss_mb"]
        flat = rss["growth_second_half_percent"] <= MEMORY_FLAT_GROWTH_PERCENT
        found.append(
            {
                "name": f"memory through {_n(scenarios['memory']['messages'])} messages",
                "target": f"peak < {MEMORY_TARGET_MB:.0f} MB, flat "
                f"(second half <= +{MEMORY_FLAT_GROWTH_PERCENT:.0f} % over the first)",
                "measured": f"peak {rss['peak']:.0f} MB, final {rss['final']:.0f} MB, "
                f"second half {rss['growth_second_half_percent']:+.0f} %",
                "met": rss["peak"] < MEMORY_TARGET_MB and flat and scenarios["memory"]["loss"] == 0,
            }
        )
    if "registry" in scenarios:
        registry = scenarios["registry"]
        for key, label in (("in_process_s", "import_csv in process"), ("command_s", "suitcase devices import")):
            slowest = registry[key]["max"]
            found.append(
                {
                    "name": f"registry CSV import of {_n(registry['devices'])} devices, {label}",
                    "target": f"< {REGISTRY_TARGET_S:g} s",
                    "measured": f"{slowest:.2f} s (slowest of {registry['repeats']})",
                    "met": slowest < REGISTRY_TARGET_S,
                }
            )
    if "console" in scenarios:
        console = scenarios["console"]
        slowest = console["first_screen"]["max_s"]
        found.append(
            {
                "name": f"console first screen with {_n(console['devices'])} devices",
                "target": f"< {CONSOLE_TARGET_S:g} s",
                "measured": f"{slowest:.2f} s (slowest of {console['repeats']})",
                "met": slowest < CONSOLE_TARGET_S,
            }
        )
    if "tenants" in scenarios:
        flood = scenarios["tenants"]
        figures = flood["summary"]
        found.append(
            {
                "name": f"a tenant's p99 while another floods at 10x its quota of {_n(flood['quota'])} msg/s",
                "target": f"within the noise ({figures['noise_ms']:.0f} ms) of its p99 alone",
                "measured": f"{figures['flood_p99_ms']:.0f} ms vs {figures['alone_p99_ms']:.0f} ms alone "
                f"({figures['raised_ms']:+.0f} ms)",
                "met": figures["met"],
            }
        )
    if "peers" in scenarios and scenarios["peers"]["summary"].get("suitcase-1", {}).get("ratio_to_nodered"):
        ratio = scenarios["peers"]["summary"]["suitcase-1"]["ratio_to_nodered"]
        found.append(
            {
                "name": "one ingest process's pause-and-drain rate beside Node-RED's, same messages and machine",
                "target": f"≥ {PEERS_TARGET:g}x Node-RED",
                "measured": f"{ratio:.2f}x",
                "met": ratio >= PEERS_TARGET,
            }
        )
    if "opendata" in scenarios:
        load = scenarios["opendata"]
        figures = load["summary"]
        found.append(
            {
                "name": f"ingest p99 at {_n(load['rate'])} msg/s while {load['clients']} clients query the open data",
                "target": f"within the noise ({figures['noise_ms']:.0f} ms) of its p99 without them",
                "measured": f"{figures['queried_p99_ms']:.0f} ms vs {figures['quiet_p99_ms']:.0f} ms "
                f"({figures['raised_ms']:+.0f} ms)",
                "met": figures["met"],
            }
        )
    return found


def table(scenarios: dict[str, Any]) -> str:
    """One Markdown table of every figure, each throughput also as a share of the broker's and InfluxDB's."""
    raw = scenarios.get("raw", {})
    broker = raw.get("broker", {})
    influx = raw.get("influxdb", {})
    influx_limit = influx.get("msg_equivalent_s")
    rows: list[tuple[str, ...]] = []
    if broker:
        size = f"{_n(broker['messages'])} msgs"
        rows += [
            ("Broker alone: publishers, no subscriber", size, f"{_n(broker['publish_only_msg_s'])} msg/s", NONE),
            (
                "Broker alone: drain of a queued session → mosquitto_sub",
                size,
                f"{_n(broker['drain_msg_s'])} msg/s",
                _n(broker["drain_loss"]),
            ),
            (
                "Broker alone: publishers → mosquitto_sub, live",
                size,
                f"{_n(broker['pass_through_msg_s'])} msg/s",
                _n(broker["pass_through_loss"]),
            ),
        ]
    if influx:
        rows.append(
            (
                f"InfluxDB alone: {_n(influx['batch_lines'])}-line writes",
                f"{_n(influx['points'])} points",
                f"{_n(influx['points_s'])} points/s = {_n(influx['msg_equivalent_s'])} msg/s "
                f"at {influx['points_per_message']} points/msg",
                NONE,
            )
        )
    rows = [(*row, NONE, NONE, NONE, NONE) for row in rows]

    def throughput_row(label: str, run: dict[str, Any], broker_limit: float | None, target: str, met: str) -> None:
        rows.append(
            (
                label,
                f"{_n(run['messages'])} msgs",
                f"{_n(run['msg_s'])} msg/s ({run['seconds']:.1f} s)",
                _n(run["loss"]),
                _share(run["msg_s"], broker_limit),
                _share(run["msg_s"], influx_limit),
                target,
                met,
            )
        )

    if "drain" in scenarios:
        drain = scenarios["drain"]
        ok = drain["msg_s"] >= DRAIN_TARGET_MSG_S and drain["loss"] == 0
        throughput_row(
            "Drain, 1 ingest process", drain, broker.get("drain_msg_s"), f"≥ {_n(DRAIN_TARGET_MSG_S)} msg/s", _met(ok)
        )
    if "live" in scenarios:
        live = scenarios["live"]
        throughput_row(
            f"Live, 1 ingest process (publishers alone: {_n(live['publishers_alone_msg_s'])} msg/s)",
            live,
            broker.get("pass_through_msg_s"),
            NONE,
            NONE,
        )
    if "latency" in scenarios:
        latency = scenarios["latency"]
        ms = latency["latency_ms"]
        p99 = ms.get("p99", float("inf"))
        ok = p99 <= LATENCY_TARGET_P99_MS and latency["loss"] == 0 and latency["not_observed"] == 0
        rows.append(
            (
                f"Latency publish → queryable, {_n(latency['rate_achieved'])} msg/s for {latency['seconds']:g} s",
                f"{_n(latency['messages'])} msgs",
                f"p50 {ms.get('p50', 0):.0f} / p95 {ms.get('p95', 0):.0f} / p99 {p99:.0f} ms "
                f"(poll every {latency['poll_interval_ms']:.0f} ms)",
                _n(latency["loss"]),
                NONE,
                NONE,
                f"p99 ≤ {LATENCY_TARGET_P99_MS:.0f} ms",
                _met(ok),
            )
        )
    if "memory" in scenarios:
        memory = scenarios["memory"]
        rss = memory["rss_mb"]
        ok = (
            rss["peak"] < MEMORY_TARGET_MB
            and rss["growth_second_half_percent"] <= MEMORY_FLAT_GROWTH_PERCENT
            and memory["loss"] == 0
        )
        label = "Memory: drain, ingest VmRSS every 0.5 s"
        if "supervised" in memory:  # --memory-workers: the worker that peaked highest
            workers = memory["supervised"]["workers"]
            label = f"Memory: drain by `--workers {workers}`, the highest worker's VmRSS every 0.5 s"
        rows.append(
            (
                label,
                f"{_n(memory['messages'])} msgs",
                f"peak {rss['peak']:.0f} MB, final {rss['final']:.0f} MB, second half "
                f"{rss['growth_second_half_percent']:+.0f} %; {_n(memory['msg_s'])} msg/s",
                _n(memory["loss"]),
                _share(memory["msg_s"], broker.get("drain_msg_s")),
                _share(memory["msg_s"], influx_limit),
                f"< {MEMORY_TARGET_MB:.0f} MB, flat",
                _met(ok),
            )
        )
    for workers, run in scenarios.get("scaleout", {}).items():
        throughput_row(
            f"Scale-out drain, {workers} worker{'s' if workers != '1' else ''} on one shared subscription",
            run,
            broker.get("drain_msg_s"),
            NONE,
            NONE,
        )
    if "registry" in scenarios:
        registry = scenarios["registry"]
        for key, label in (("in_process_s", "`import_csv` in process"), ("command_s", "`suitcase devices import`")):
            figures = registry[key]
            rows.append(
                (
                    f"Registry CSV import, {label}",
                    f"{_n(registry['devices'])} devices",
                    f"median {figures['median']:.2f} s, slowest {figures['max']:.2f} s",
                    NONE,
                    NONE,
                    NONE,
                    f"< {REGISTRY_TARGET_S:g} s",
                    _met(figures["max"] < REGISTRY_TARGET_S),
                )
            )
    for name, rows_of in (
        ("console", _console_rows),
        ("tenants", _tenant_rows),
        ("opendata", _opendata_rows),
        ("peers", _peer_rows),
        ("hotpath", _hotpath_rows),
    ):
        if name in scenarios:
            rows += rows_of(scenarios[name])
    header = ("Scenario", "Size", "Result", "Loss", "Of broker limit", "Of InfluxDB limit", "Target", "Met")
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _tenant_rows(flood: dict[str, Any]) -> list[tuple[str, ...]]:
    """The flood test: the quiet tenant's latency alone, beside a flood held to its quota, beside one that is not."""
    figures = flood["summary"]
    rate, size = _n(flood["quiet_rate"]), f"{_n(flood['quiet_rate'] * flood['seconds'])} msgs per run"
    labels = {
        "alone": "other tenant's devices silent",
        "flood": f"other tenant floods at {_n(flood['flood_rate'])} msg/s, quota {_n(flood['quota'])}",
        "flood-no-quota": f"other tenant floods at {_n(flood['flood_rate'])} msg/s, no quota",
    }
    rows: list[tuple[str, ...]] = []
    for kind, label in labels.items():
        runs = [r for r in flood["runs"] if r["kind"] == kind]
        p99s = " / ".join(f"{r['latency_ms'].get('p99', float('inf')):.0f}" for r in runs)
        median = figures[f"{kind.replace('-', '_')}_p99_ms"]
        target, met = NONE, NONE
        if kind == "flood":
            target = f"≤ alone + noise ({figures['noise_ms']:.0f} ms)"
            met = _met(figures["met"])
        rows.append(
            (
                f"Tenants: {rate} msg/s of one tenant, {label}",
                size,
                f"p99 median {median:.0f} ms (runs: {p99s} ms)",
                _n(sum(r["loss"] for r in runs)),
                NONE,
                NONE,
                target,
                met,
            )
        )
    return rows


def _opendata_rows(load: dict[str, Any]) -> list[tuple[str, ...]]:
    """Ingest latency without and with a query flood on the public side."""
    figures = load["summary"]
    rows: list[tuple[str, ...]] = []
    for kind, label in (
        ("quiet", "no open-data queries"),
        ("queried", f"{load['clients']} clients flooding the open data"),
    ):
        runs = [r for r in load["runs"] if r["kind"] == kind]
        p99s = " / ".join(f"{r['latency_ms'].get('p99', float('inf')):.0f}" for r in runs)
        answered = sum(r["queries"]["requests"] for r in runs)
        extra = f"; {_n(answered)} queries answered" if kind == "queried" else ""
        rows.append(
            (
                f"Open data: ingest at {_n(load['rate'])} msg/s, {label}",
                f"{_n(load['rate'] * load['seconds'])} msgs per run",
                f"p99 median {figures[f'{kind}_p99_ms']:.0f} ms (runs: {p99s} ms){extra}",
                _n(sum(r["loss"] for r in runs)),
                NONE,
                NONE,
                f"≤ quiet + noise ({figures['noise_ms']:.0f} ms)" if kind == "queried" else NONE,
                _met(figures["met"]) if kind == "queried" else NONE,
            )
        )
    return rows


def _console_rows(console: dict[str, Any]) -> list[tuple[str, ...]]:
    """The console's first screen, a search and the last page."""
    rows: list[tuple[str, ...]] = []
    for key, label in (
        ("first_screen", "first screen `/`"),
        ("search", "a search"),
        ("last_page", "the last page"),
    ):
        figures = console[key]
        result = f"median {figures['median_s']:.2f} s, slowest {figures['max_s']:.2f} s"
        rows.append(
            (
                f"Console, {label}",
                f"{_n(console['devices'])} devices",
                f"{result}, {_n(figures['bytes'])} bytes",
                NONE,
                NONE,
                NONE,
                f"< {CONSOLE_TARGET_S:g} s" if key == "first_screen" else NONE,
                _met(figures["max_s"] < CONSOLE_TARGET_S) if key == "first_screen" else NONE,
            )
        )
    return rows


PEER_LABELS = {
    "nodered": "Node-RED 4.1.15 + node-red-contrib-influxdb 0.7.0 (reference flow; acknowledges on receipt, "
    "no validation; 1 point per message)",
    "suitcase-1": "iot-suitcase ingest, one process (acknowledges after its log's fsync, validates; 4 points per "
    "message)",
    "suitcase-auto": "iot-suitcase ingest --workers auto",
}


def _hotpath_rows(hot: dict[str, Any]) -> list[tuple[str, ...]]:
    """Each hand-written part of the ingest hot path beside what it replaces (µs per call, best round)."""
    size = f"{_n(hot['messages'])} msgs, best of {hot['rounds']}"
    rows: list[tuple[str, ...]] = [
        ("Hot path in process: `Intake.submit`, per message", size, f"{hot['intake_submit_us']:.1f} µs", NONE)
    ]
    for pair in hot["pairs"].values():
        result = f"{pair['hand_written_us']:.2f} vs {pair['library_us']:.2f} µs (saves {pair['saved_us']:.2f})"
        rows.append((f"Hot path in process: {pair['what']}", size, result, NONE))
    return [(*row, NONE, NONE, NONE, NONE) for row in rows]


def _peer_rows(side_by_side: dict[str, Any]) -> list[tuple[str, ...]]:
    """The side-by-side drain: each consumer's median rate, its ratio to Node-RED's, its peak RSS."""
    rows: list[tuple[str, ...]] = []
    for consumer, figures in side_by_side["summary"].items():
        runs = " / ".join(_n(rate) for rate in figures["runs_msg_s"])
        ratio = figures["ratio_to_nodered"]
        target, met = NONE, NONE
        if consumer == "suitcase-1" and ratio is not None:
            target, met = f"≥ {PEERS_TARGET:g}x Node-RED", _met(ratio >= PEERS_TARGET)
        rows.append(
            (
                f"Side by side: {PEER_LABELS[consumer]}",
                f"{_n(side_by_side['messages'])} msgs, {_n(side_by_side['devices'])} devices",
                f"{_n(figures['median_msg_s'])} msg/s median (runs: {runs}); "
                f"{ratio if ratio is not None else '—'}x Node-RED; peak RSS "
                f"{figures['peak_rss_mb_largest_process']:.0f} MB per process "
                f"({figures['peak_rss_mb_all']:.0f} MB all)",
                "0" if figures["complete"] else "incomplete",
                NONE,
                NONE,
                target,
                met,
            )
        )
    return rows
