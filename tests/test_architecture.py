"""The dependency contract, read from the imports of every product module (tests excluded).

- ``devices`` is the core: it imports none of the other packages.
- ``ingest``, ``dashboards`` and ``simulators`` stand on ``devices`` and never on each other.
- The product installs one top-level name, ``iot_suitcase``; the domain packages are its subpackages (their
  folders stand at the top of the repository and are linked into ``iot_suitcase/``). The rest of the
  namespace, called ``suitcase`` here, is the application that wires them all (the CLI and the local stack).
- Inside ``devices``, subpackages depend one way: no cycle among them; codecs know nothing of the payload
  formats that carry them, and the registry nothing of the credentials built on it.
- ``suitcase.servers`` (the Mosquitto, InfluxDB and VictoriaMetrics processes that the test fixtures, the
  benchmark and the local stack start) knows nothing of the local stack, the CLI or the services; test
  infrastructure (``conftest.py``, ``tests/helpers.py``) needs no product internals beyond it.
- Inside ``ingest``, subpackages stand in layers (``INGEST_LAYERS``), and none imports the modules that join
  them (the pipeline, the service, the CLI).
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
NAMESPACE = "iot_suitcase"  # the one top-level name the product installs
PACKAGES = ("devices", "ingest", "dashboards", "simulators")  # its domain packages, top-level folders here
APPLICATION = "suitcase"  # the rest of the namespace: the CLI, settings, the local stack, the servers
MAY_IMPORT = {
    "devices": {"devices"},
    "ingest": {"devices", "ingest"},
    "dashboards": {"devices", "dashboards"},
    "simulators": {"devices", "simulators"},
    APPLICATION: {*PACKAGES, APPLICATION},
}


def short(module: str) -> str:
    """``iot_suitcase.devices.x`` -> ``devices.x``; ``iot_suitcase.servers`` -> ``suitcase.servers``."""
    inner = module.removeprefix(f"{NAMESPACE}.") if module != NAMESPACE else ""
    return inner if inner.split(".")[0] in PACKAGES else ".".join(filter(None, (APPLICATION, inner)))


def product_modules() -> dict[str, Path]:
    """Every product module by its installed name; the domain folders are linked into the namespace folder."""
    modules = {}
    folders = [(REPO / NAMESPACE, NAMESPACE)] + [(REPO / package, f"{NAMESPACE}.{package}") for package in PACKAGES]
    for folder, prefix in folders:
        for path in folder.rglob("*.py"):  # rglob does not follow the links: each folder once
            if path.name.startswith(("test_", "testing")) or path.name == "conftest.py":  # tests, test support
                continue
            parts = (prefix, *path.relative_to(folder).with_suffix("").parts)
            modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def imports_of(path: Path) -> set[str]:
    """The product modules ``path`` imports, by their short names (``devices.x``, ``suitcase.cli``)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)  # `from pkg import module`
    return {short(name) for name in found if name.split(".")[0] == NAMESPACE}


GRAPH = {short(module): imports_of(path) for module, path in product_modules().items()}


def test_top_level_packages_depend_one_way() -> None:
    wrong = [
        f"{module} imports {target}"
        for module, targets in GRAPH.items()
        for target in targets
        if target.split(".")[0] not in MAY_IMPORT[module.split(".")[0]]
    ]
    assert not wrong, "\n".join(wrong)


def subpackage(module: str, root: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == root and len(parts) > 2 else None  # devices.x.y -> x; devices.y -> None


def subpackage_edges(root: str) -> dict[str, set[str]]:
    """Which subpackages of ``root`` import which others (``root.x.y`` importing ``root.z`` or ``root.z.w``)."""
    edges: dict[str, set[str]] = defaultdict(set)
    for module, targets in GRAPH.items():
        source = subpackage(module, root)
        for target in targets:
            into = subpackage(target, root) or (target.split(".")[1] if target.count(".") == 1 else None)
            if source and into and into != source and (REPO / root / into).is_dir():
                edges[source].add(into)
    return edges


def assert_no_cycle(edges: dict[str, set[str]]) -> None:
    visiting: list[str] = []
    done: set[str] = set()

    def visit(node: str) -> None:
        assert node not in visiting, f"import cycle: {' -> '.join([*visiting[visiting.index(node) :], node])}"
        if node in done:
            return
        visiting.append(node)
        for nxt in sorted(edges[node]):
            visit(nxt)
        visiting.pop()
        done.add(node)

    for node in sorted(edges):
        visit(node)


def test_subpackages_of_devices_have_no_cycle() -> None:
    edges = subpackage_edges("devices")
    assert "formats" not in edges["codecs"], "codecs must not know the formats that carry them"
    assert "credentials" not in edges["registry"], "the registry must not know the credentials built on it"
    assert_no_cycle(edges)


# The subpackages of ingest from top to bottom: each may import only those below it. A message passes
# sources -> intake -> wal (the committer logs it) -> sink (the drainer reads the log into InfluxDB); the sink
# reads the log's records, so it stands on wal; operations shows them all; the console frames it for staff.
INGEST_LAYERS = ("console", "opendata", "operations", "sources", "intake", "sink", "wal")
INGEST_COMPOSITION = {"ingest.pipeline", "ingest.service", "ingest.cli"}  # join the stages; none imports these


def test_ingest_subpackages_depend_one_way() -> None:
    edges = subpackage_edges("ingest")
    assert set(edges) | {n for targets in edges.values() for n in targets} <= set(INGEST_LAYERS)
    upward = [
        f"ingest.{source} imports ingest.{target}"
        for source, targets in edges.items()
        for target in targets
        if INGEST_LAYERS.index(target) < INGEST_LAYERS.index(source)
    ]
    upward += [
        f"{module} imports {target}"
        for module, targets in GRAPH.items()
        if subpackage(module, "ingest")
        for target in targets
        if target in INGEST_COMPOSITION
    ]
    assert not upward, "\n".join(upward)


def test_product_code_imports_no_test_module() -> None:
    wrong = [
        f"{module} imports {target}"
        for module, targets in GRAPH.items()
        for target in targets
        if any(part.startswith(("test_", "testing")) for part in target.split("."))
    ]
    assert not wrong, "\n".join(wrong)


TEST_INFRASTRUCTURE = (REPO / "conftest.py", REPO / "tests" / "helpers.py")


def test_the_server_processes_stand_apart_from_the_product_stack() -> None:
    wrong = [
        f"{module} imports {target}"
        for module, targets in GRAPH.items()
        if module.startswith("suitcase.servers")
        for target in targets
        if not target.startswith(("suitcase.servers", "devices.credentials"))
    ]
    for path in TEST_INFRASTRUCTURE:
        wrong += [
            f"{path.name} imports {target}"
            for target in imports_of(path)
            if target.split(".")[0] == APPLICATION and not target.startswith("suitcase.servers")
        ]
    assert not wrong, "\n".join(wrong)
