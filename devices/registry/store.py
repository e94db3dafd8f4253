"""The device registry and its one YAML file.

One plain file, because the people who run a starter kit back it up by copying it, read it in any editor,
keep it in git and review changes as diffs; nothing else needs a database for a few thousand devices.
Every write replaces the file atomically, so a crash or a full disk leaves the previous registry intact.
"""

from __future__ import annotations

import contextlib
import difflib
import fcntl
import os
import stat
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from iot_suitcase.devices import codecs
from iot_suitcase.devices.codecs import DeviceModel
from iot_suitcase.devices.registry.model import (
    DEFAULT_INTERVAL_S,
    NATIVE,
    Device,
    DeviceSpec,
    Problem,
    RegistryError,
    describe,
    device_problems,
    fold_dev_eui,
    make_spec,
    unknown_model_message,
)
from iot_suitcase.devices.settings import RegistrySettings

try:  # libyaml: 3-4 times faster to read and write; the pure-Python classes give the same text
    from yaml import CSafeDumper as _SafeDumper
    from yaml import CSafeLoader as _SafeLoader
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    from yaml import SafeDumper as _SafeDumper  # type: ignore[assignment]
    from yaml import SafeLoader as _SafeLoader  # type: ignore[assignment]

QUARANTINE_SITE = "quarantine"
FORMAT_VERSION = 1
HEADER = """\
# iot-suitcase device registry: every sensor of this installation, sorted by id.
# Written by `suitcase devices add/remove/import`; fine to edit by hand, back up, and keep in git.
# Comments other than this header are not kept. The fields: devices/registry/README.md.
"""


def default_registry_path() -> Path:
    """``SUITCASE_REGISTRY_FILE``, else var/registry.yaml."""
    return RegistrySettings().registry_file


class Registry:
    """Devices by id and by DevEUI. Every change is checked first, so a Registry is always valid.

    ``models`` is the codec model table to check ``vendor/model`` ids against (default: the codecs
    installed, ``devices.codecs.MODELS``, looked up on every check so that it may keep growing).
    """

    def __init__(self, *, models: Mapping[str, DeviceModel] | None = None) -> None:
        self._models = models
        self._by_id: dict[str, Device] = {}
        self._by_eui: dict[str, str] = {}
        self._sorted: tuple[Device, ...] | None = ()
        self._revision = 0

    @classmethod
    def from_devices(
        cls,
        devices: Iterable[Device],
        *,
        lines: Sequence[int] | None = None,
        models: Mapping[str, DeviceModel] | None = None,
    ) -> Registry:
        """A registry of already complete devices (e.g. read from a file); raises listing every conflict."""
        registry = cls(models=models)
        batch = list(devices)
        problems = registry._check_new(batch, lines, name_devices=True)
        if problems:
            raise RegistryError(problems)
        registry._insert(batch)
        return registry

    @property
    def models(self) -> Mapping[str, DeviceModel]:
        return codecs.MODELS if self._models is None else self._models

    def __len__(self) -> int:
        return len(self._by_id)

    def __contains__(self, device_id: object) -> bool:
        return device_id in self._by_id

    def get(self, device_id: str) -> Device | None:
        return self._by_id.get(device_id)

    def by_dev_eui(self, dev_eui: str) -> Device | None:
        """The device with this DevEUI, written in any case and with or without separators."""
        device_id = self._by_eui.get(fold_dev_eui(dev_eui))
        return None if device_id is None else self._by_id[device_id]

    @property
    def devices(self) -> tuple[Device, ...]:
        """Every device, sorted by id."""
        if self._sorted is None:
            self._sorted = tuple(self._by_id[key] for key in sorted(self._by_id))
        return self._sorted

    @property
    def sites(self) -> tuple[str, ...]:
        """Every site that has a device, sorted."""
        return tuple(sorted({device.site for device in self._by_id.values()}))

    def device_models(self) -> dict[str, str]:
        """Device id and DevEUI -> ``vendor/model`` of every non-native device (``FormatContext.device_models``)."""
        found = {}
        for device in self._by_id.values():
            if device.model != NATIVE:
                found[device.id] = device.model
                if device.dev_eui is not None:
                    found[device.dev_eui] = device.model
        return found

    def add_given(self, given: Mapping[str, object], *, now: datetime | None = None) -> Device:
        """Register a device from the values a person gave (CLI flags, a console form); empty ones are unset.
        The one way both add a device, so both check the same and say the same."""
        wanted = {key: value for key, value in given.items() if value not in (None, "", {})}
        return self.add(make_spec(wanted, models=self.models), now=now)

    def replace_given(self, device_id: str, given: Mapping[str, object]) -> Device:
        """Change a registered device to what a person gave (the console's edit form), keeping its id and its
        ``created``; the caller's ``RegistryFile.edit()`` saves nothing if the new values are refused."""
        old = self.remove(device_id)
        return self.add_given({**given, "id": device_id}, now=old.created)

    def add(self, spec: DeviceSpec, *, now: datetime | None = None) -> Device:
        """Register one device, defaults filled in from its model; raises naming every problem."""
        return self._add(specs=[spec], lines=None, now=now, name_devices=False)[0]

    def add_all(
        self, specs: Sequence[DeviceSpec], *, lines: Sequence[int] | None = None, now: datetime | None = None
    ) -> list[Device]:
        """Register all of ``specs`` or, if any is refused, none; the error lists every problem.

        ``lines`` (one per spec) are where each spec came from, to name them in problems.
        """
        return self._add(specs=specs, lines=lines, now=now, name_devices=lines is None)

    def check_all(
        self, specs: Sequence[DeviceSpec], *, lines: Sequence[int] | None = None, now: datetime | None = None
    ) -> list[Problem]:
        """What ``add_all`` would refuse, without changing anything."""
        _, problems = self._prepare(specs, lines, now, name_devices=lines is None)
        return problems

    def remove(self, device_id: str) -> Device:
        device = self.require(device_id)
        del self._by_id[device_id]
        if device.dev_eui is not None:
            del self._by_eui[device.dev_eui]
        self._changed()
        return device

    def update(self, device_id: str, **changes: Any) -> Device:
        """Change fields of a registered device (not ``id`` or ``created``); returns the new version.

        Nothing is re-defaulted: changing ``model`` keeps ``kind`` and ``interval_s`` unless they are
        changed too.
        """
        current = self.require(device_id)
        fixed = sorted({"id", "created"} & changes.keys())
        if fixed:
            message = "cannot be changed: remove the device and add it again"
            raise RegistryError([Problem(message, field=field) for field in fixed])
        try:
            device = Device.model_validate(current.model_dump() | changes)
        except ValidationError as error:
            raise RegistryError(describe(error)) from None
        problems = []
        if device.model != NATIVE and device.model not in self.models:
            problems.append(Problem(unknown_model_message(device.model, self.models), field="model"))
        owner = None if device.dev_eui is None else self._by_eui.get(device.dev_eui)
        if owner not in (None, device_id):
            problems.append(Problem(f"{device.dev_eui} is already the DevEUI of {owner!r}", field="dev_eui"))
        if problems:
            raise RegistryError(problems)
        self.remove(device_id)
        self._insert([device])
        return device

    def auto_register(self, device_id: str, *, model: str = NATIVE) -> Device:
        """Register a device nobody registered yet in the ``quarantine`` site, for an operator to review.

        For the ingest service's "register" policy: a device already registered is returned unchanged, so
        calling this for every message of a device is harmless.
        """
        existing = self._by_id.get(device_id)
        if existing is not None:
            return existing
        return self.add(make_spec({"id": device_id, "model": model, "site": QUARANTINE_SITE}, models=self.models))

    def _add(
        self, *, specs: Sequence[DeviceSpec], lines: Sequence[int] | None, now: datetime | None, name_devices: bool
    ) -> list[Device]:
        devices, problems = self._prepare(specs, lines, now, name_devices=name_devices)
        if problems:
            raise RegistryError(problems)
        self._insert(devices)
        return devices

    def _prepare(
        self, specs: Sequence[DeviceSpec], lines: Sequence[int] | None, now: datetime | None, *, name_devices: bool
    ) -> tuple[list[Device], list[Problem]]:
        created = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
        devices: list[Device] = []
        device_lines: list[int] = []
        problems: list[Problem] = []
        for index, spec in enumerate(specs):
            line = None if lines is None else lines[index]
            try:
                devices.append(self._resolve(spec, created))
            except ValidationError as error:
                problems += describe(error, line=line, device=spec.id if name_devices else None)
                continue
            if line is not None:
                device_lines.append(line)
        problems += self._check_new(devices, None if lines is None else device_lines, name_devices=name_devices)
        return devices, sorted(problems, key=lambda problem: problem.line or 0)

    def _resolve(self, spec: DeviceSpec, created: datetime) -> Device:
        model = self.models.get(spec.model)
        return Device(
            id=spec.id,
            name=spec.name or spec.id,
            model=spec.model,
            kind=spec.kind or (None if model is None else model.kind),
            site=spec.site,
            location=spec.location,
            dev_eui=spec.dev_eui,
            interval_s=spec.interval_s or (DEFAULT_INTERVAL_S if model is None else model.interval_s),
            tags=spec.tags,
            gateway=spec.gateway,
            created=created,
        )

    def _check_new(self, batch: Sequence[Device], lines: Sequence[int] | None, *, name_devices: bool) -> list[Problem]:
        """Problems of adding ``batch``: unknown models, ids and DevEUIs already taken here or in the batch."""
        problems = []
        first_ids: dict[str, int] = {}
        first_euis: dict[str, int] = {}

        def also(index: int) -> str:
            return "" if lines is None else f" (first on line {lines[index]})"

        for index, device in enumerate(batch):
            line = None if lines is None else lines[index]
            named = device.id if name_devices else None

            def problem(message: str, field: str, line: int | None = line, named: str | None = named) -> Problem:
                return Problem(message, field=field, line=line, device=named)

            if device.model != NATIVE and device.model not in self.models:
                problems.append(problem(unknown_model_message(device.model, self.models), "model"))
            if device.id in self._by_id:
                site = self._by_id[device.id].site
                problems.append(problem(f"{device.id!r} is already registered (site {site})", "id"))
            elif device.id in first_ids:
                problems.append(problem(f"{device.id!r} is given twice{also(first_ids[device.id])}", "id"))
            else:
                first_ids[device.id] = index
            eui = device.dev_eui
            if eui is None:
                continue
            if eui in self._by_eui:
                problems.append(problem(f"{eui} is already the DevEUI of {self._by_eui[eui]!r}", "dev_eui"))
            elif eui in first_euis:
                other = batch[first_euis[eui]].id
                problems.append(problem(f"{eui} is also the DevEUI of {other!r}{also(first_euis[eui])}", "dev_eui"))
            else:
                first_euis[eui] = index
        return problems

    def _insert(self, devices: Iterable[Device]) -> None:
        for device in devices:
            self._by_id[device.id] = device
            if device.dev_eui is not None:
                self._by_eui[device.dev_eui] = device.id
        self._changed()

    def _changed(self) -> None:
        self._sorted = None
        self._revision += 1

    def require(self, device_id: str) -> Device:
        """The device, or a ``RegistryError`` suggesting the ids it may have been meant as."""
        device = self._by_id.get(device_id)
        if device is None:
            close = difflib.get_close_matches(device_id, list(self._by_id), n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise RegistryError(Problem(f"no device {device_id!r} in the registry{hint}"))
        return device


class _Loader(_SafeLoader):
    """The safe loader, refusing a key given twice in one mapping (PyYAML would keep the last silently)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen = set()
        for key_node, _ in node.value:
            if isinstance(key_node, yaml.ScalarNode):
                if key_node.value in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"the key {key_node.value!r} is given twice", key_node.start_mark
                    )
                seen.add(key_node.value)
        return super().construct_mapping(node, deep=deep)


def dump_yaml(registry: Registry) -> str:
    """The registry file's text: the header, the format version, the devices sorted by id."""
    document = {"version": FORMAT_VERSION, "devices": [device.as_record() for device in registry.devices]}
    body = yaml.dump(document, Dumper=_SafeDumper, sort_keys=False, allow_unicode=True, width=1000)
    return HEADER + body


def parse_yaml(text: str, *, models: Mapping[str, DeviceModel] | None = None) -> Registry:
    """A registry from the file's text; a ``RegistryError`` lists every bad entry with its line."""
    loader = _Loader(text)
    try:
        root = loader.get_single_node()
        data = None if root is None else loader.construct_document(root)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        raise RegistryError(
            Problem(f"not valid YAML: {error.problem or error.context}", line=None if mark is None else mark.line + 1)
        ) from None
    except yaml.YAMLError as error:
        raise RegistryError(Problem(f"not valid YAML: {error}")) from None
    finally:
        loader.dispose()
    if data is None:
        return Registry(models=models)
    if not isinstance(data, dict):
        raise RegistryError(Problem("the file must be a mapping with 'version' and 'devices'", line=1))
    problems = [
        Problem("unknown field (a typo?): the file has 'version' and 'devices'", field=str(key))
        for key in data
        if key not in {"version", "devices"}
    ]
    if data.get("version", FORMAT_VERSION) != FORMAT_VERSION:
        problems.append(
            Problem(f"{data['version']!r} is not supported: this version reads {FORMAT_VERSION}", field="version")
        )
    entries = data.get("devices") or []
    if not isinstance(entries, list):
        raise RegistryError([*problems, Problem("must be a list of devices", field="devices")])
    lines = _entry_lines(root, len(entries))
    valid, valid_lines = [], []
    for entry, line in zip(entries, lines, strict=True):
        device, found = device_problems(entry, line=line)
        problems += found
        if device is not None:
            valid.append(device)
            valid_lines.append(line)
    try:
        registry = Registry.from_devices(valid, lines=valid_lines, models=models)
    except RegistryError as error:
        problems += error.problems
    if problems:
        raise RegistryError(sorted(problems, key=lambda problem: problem.line or 0))
    return registry


def _entry_lines(root: yaml.Node | None, count: int) -> list[int]:
    """The line (1-based) on which each entry of ``devices`` starts."""
    if isinstance(root, yaml.MappingNode):
        for key, value in root.value:
            if isinstance(key, yaml.ScalarNode) and key.value == "devices" and isinstance(value, yaml.SequenceNode):
                return [item.start_mark.line + 1 for item in value.value]
    return [0] * count


Signature = tuple[int, int, int, int]


def _signature(status: os.stat_result) -> Signature:
    # Each save is a new inode (os.replace), and ctime changes on any write: together they catch an edit
    # that keeps the size and lands within the file system's mtime granularity.
    return (status.st_ino, status.st_size, status.st_mtime_ns, status.st_ctime_ns)


_NEVER_LOADED: Signature = (-1, -1, -1, -1)


class RegistryFile:
    """The registry's YAML file: load, save atomically, notice changes, and edit under a lock.

    ``edit()`` is the way to change the registry when another process may too (the CLI while the ingest
    service auto-registers): it holds an exclusive lock on a sidecar ``.<name>.lock`` file from loading to
    saving, so no change is lost between two writers.
    """

    def __init__(self, path: Path | str | None = None, *, models: Mapping[str, DeviceModel] | None = None) -> None:
        settings = RegistrySettings()
        self.path = settings.registry_file if path is None else Path(path)
        self.max_devices = settings.max_devices
        self._models = models
        self._seen: Signature | None = _NEVER_LOADED
        self._locked_here = False

    def load(self) -> Registry:
        """The registry in the file (empty if there is no file yet); raises listing every bad entry."""
        try:
            with self.path.open("rb") as file:
                self._seen = _signature(os.fstat(file.fileno()))
                raw = file.read()
        except FileNotFoundError:
            self._seen = None
            return Registry(models=self._models)
        try:
            return parse_yaml(raw.decode("utf-8"), models=self._models)
        except UnicodeDecodeError as error:
            raise RegistryError(Problem(f"not UTF-8 text (byte {error.start})"), summary=f"{self.path}:") from None
        except RegistryError as error:
            count = len(error.problems)
            summary = f"{self.path}: {count} problem{'s' if count > 1 else ''}; fix the file and try again:"
            raise RegistryError(error.problems, summary=summary) from None

    def save(self, registry: Registry) -> None:
        """Replace the file atomically with ``registry``."""
        with self._locked():
            write_atomic(self.path, dump_yaml(registry).encode("utf-8"))

    def reload_if_changed(self) -> Registry | None:
        """The registry if the file changed since the last load, else ``None``; checking costs one stat.

        A missing file is an empty registry. A file that does not load raises once per change, so a
        poller logs a bad edit once and keeps its previous registry until the file is fixed.
        """
        try:
            current: Signature | None = _signature(os.stat(self.path))
        except FileNotFoundError:
            current = None
        if current == self._seen:
            return None
        return self.load()

    @contextmanager
    def edit(self) -> Iterator[Registry]:
        """Load under an exclusive lock, let the caller change the registry, save if it changed.

        If the block raises, nothing is saved.
        """
        with self._locked():
            registry = self.load()
            revision, before = registry._revision, len(registry)
            yield registry
            if registry._revision != revision:
                self._check_quota(before, len(registry))
                write_atomic(self.path, dump_yaml(registry).encode("utf-8"))

    def _check_quota(self, before: int, after: int) -> None:
        """Refuse growing past ``SUITCASE_MAX_DEVICES``; a registry already over it may still shrink or change."""
        if self.max_devices is not None and after > max(before, self.max_devices):
            raise RegistryError(
                Problem(
                    f"this registry may hold at most {self.max_devices} devices (SUITCASE_MAX_DEVICES) and has "
                    f"{before}: remove a device, or ask the platform's administrator for a larger quota"
                )
            )

    @contextmanager
    def _locked(self) -> Iterator[None]:
        if self._locked_here:  # save() inside edit(): a second flock from this process would wait forever
            yield
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(self.path.with_name(f".{self.path.name}.lock"), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            self._locked_here = True
            yield
        finally:
            self._locked_here = False
            os.close(descriptor)  # releases the lock


def write_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` so that a crash at any moment leaves either the old or the new file.

    A temporary file in the same directory is written and fsynced, renamed over ``path``, and the
    directory fsynced so the rename itself survives a power cut. A symlinked ``path`` keeps its link.
    """
    target = Path(os.path.realpath(path))
    directory = target.parent
    directory.mkdir(parents=True, exist_ok=True)
    try:
        mode = stat.S_IMODE(os.stat(target).st_mode)
    except FileNotFoundError:
        mode = 0o644
    descriptor, temporary = tempfile.mkstemp(dir=directory, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
            file.flush()
            os.fchmod(file.fileno(), mode)
            os.fsync(file.fileno())
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    directory_descriptor = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(directory_descriptor)
    finally:
        os.close(directory_descriptor)
