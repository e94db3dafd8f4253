"""Child-process plumbing shared by the Mosquitto, InfluxDB and VictoriaMetrics wrappers.

Tests and `suitcase up` run the real servers as children so they can be stopped, SIGKILLed and
restarted at will. Each child writes stdout/stderr to a log file in its own data dir, and that log's
tail goes into every start failure so a broken start explains itself.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import IO, ClassVar, Self

_PR_SET_PDEATHSIG = 1
_handed_out: set[tuple[str, int]] = set()


class ServiceError(RuntimeError):
    """A managed server failed to start (or was used while not running)."""


def free_port(host: str = "127.0.0.1") -> int:
    """Return a port on `host` that nothing listens on now.

    The kernel picks it (bind to port 0). Ports already handed out by this process are skipped so
    that two calls in a row (InfluxDB needs two ports) never return the same one.
    """
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((host, 0))
            port: int = sock.getsockname()[1]
        if (host, port) not in _handed_out:
            _handed_out.add((host, port))
            return port


def port_is_listening(host: str, port: int) -> bool:
    """True if a TCP connect to host:port succeeds, i.e. something accepts connections there."""
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def listening_process(port: int) -> str | None:
    """Which process listens on TCP ``port`` ("pid 123: /usr/sbin/mosquitto -c ..."), if /proc tells."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if len(fields) > 9 and fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:  # LISTEN
                inodes.add(fields[9])
    for proc in Path("/proc").iterdir() if inodes else ():
        if not proc.name.isdigit():
            continue
        try:
            links = {os.readlink(fd) for fd in (proc / "fd").iterdir()}
            if any(f"socket:[{inode}]" in links for inode in inodes):
                command = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
                return f"pid {proc.name}: {command}"
        except OSError:
            continue
    return None


def http_request(url: str, data: bytes | None = None, *, timeout: float = 30.0) -> tuple[int, bytes]:
    """GET, or POST `data`, to one of our servers; return (status, body). HTTPError on 4xx/5xx.

    Only plain http:// is allowed: the servers listen on loopback and urllib would also open file:// URLs.
    """
    if not url.startswith("http://"):
        raise ValueError(f"not an http:// URL: {url}")
    request = urllib.request.Request(url, data=data, method="GET" if data is None else "POST")  # noqa: S310
    with urllib.request.urlopen(request, timeout=timeout) as resp:  # noqa: S310 - scheme checked above
        body: bytes = resp.read()
        return resp.status, body


def _die_with_parent() -> Callable[[], None] | None:
    """Build a preexec_fn that makes the child get SIGKILL when the parent dies (Linux; None elsewhere).

    Without it a crashed test run leaves brokers and databases holding ports and files. prctl is
    looked up here, before the fork, so the child (forked from a threaded parent) only makes
    syscalls. The signal fires when the *thread* that started the child exits, so start services
    from a thread that lives as long as they should (the main thread, normally).
    """
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    parent_pid = os.getpid()

    def preexec() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent_pid:  # the parent died before prctl took effect
            os._exit(1)

    return preexec


class ManagedProcess(ABC):
    """One server child process: start (and wait until ready), stop, kill -9, restart.

    Subclasses provide the command line (and may render config files there) and a readiness probe.
    The port is fixed at construction, so a restarted server is found where clients expect it.
    """

    name: ClassVar[str]
    ready_timeout: ClassVar[float] = 20.0

    def __init__(self, data_dir: Path, *, port: int | None = None, host: str = "127.0.0.1") -> None:
        self.data_dir = Path(data_dir).resolve()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.host = host
        self.port = port if port is not None else free_port(host)
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._log_offset = 0

    @property
    def log_path(self) -> Path:
        return self.data_dir / f"{self.name}.log"

    @abstractmethod
    def command(self) -> list[str]:
        """The argv to run; called before every start, so it may (re)write config files."""

    @abstractmethod
    def is_ready(self) -> bool:
        """Cheap probe: does the server answer on its port yet?"""

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self.running and self._proc is not None else None

    def start(self) -> Self:
        """Start the child and block until `is_ready()`; raise ServiceError with the log tail if not."""
        if self.running:
            raise ServiceError(f"{self.name} is already running (pid {self.pid})")
        # Someone else on our port would answer the readiness probe in our server's place.
        if port_is_listening(self.host, self.port):
            raise ServiceError(f"{self.name}: {self.host}:{self.port} is already in use by another process")
        argv = self.command()
        self._log = self.log_path.open("ab")
        self._log_offset = self._log.tell()
        self._log.write(f"--- starting: {' '.join(argv)}\n".encode())
        self._log.flush()
        try:
            self._proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                cwd=self.data_dir,
                preexec_fn=_die_with_parent(),  # noqa: PLW1509 - PDEATHSIG must be set in the child
                start_new_session=True,  # Ctrl-C reaches us only; we decide the shutdown order
            )
        except OSError as exc:
            self._close_log()
            raise ServiceError(f"{self.name}: cannot run {argv[0]}: {exc}") from exc
        deadline = time.monotonic() + self.ready_timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                code = self._proc.returncode
                self._close_log()
                raise self._failure(f"exited with code {code} during start")
            if self.is_ready():
                self.pid_path.write_text(f"{self._proc.pid}\n")
                return self
            time.sleep(0.05)
        self.kill()
        raise self._failure(f"not ready after {self.ready_timeout:.0f} s")

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM (a clean shutdown that saves data), SIGKILL after `timeout` s; return the exit code."""
        if self._proc is None:
            return None
        if self._proc.poll() is None:
            self._proc.send_signal(signal.SIGTERM)
            try:
                self._proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._close_log()
        return self._proc.returncode

    def kill(self) -> None:
        """SIGKILL and reap: simulates a crash (no flush, no goodbye to clients)."""
        if self._proc is None:
            return
        if self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()
        self._close_log()

    @property
    def pid_path(self) -> Path:
        """Where the running server's pid is written, for tools that signal it (e.g. SIGHUP to reload)."""
        return self.data_dir / f"{self.name}.pid"

    def reload(self, settle: float = 0.3) -> None:
        """SIGHUP: servers that support it (Mosquitto) re-read their config, password and ACL files."""
        if self._proc is None or self._proc.poll() is not None:
            raise ServiceError(f"{self.name} is not running")
        self._proc.send_signal(signal.SIGHUP)
        time.sleep(settle)  # the signal is handled between two network events: give the loop a moment

    def restart(self, timeout: float = 10.0) -> Self:
        """Clean stop, then start on the same port and data dir."""
        self.stop(timeout)
        return self.start()

    def log_tail(self, lines: int = 30) -> str:
        """The last lines this server logged since the latest start (what explains a failure)."""
        try:
            with self.log_path.open("rb") as f:
                f.seek(self._log_offset)
                text = f.read().decode(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = f"pid {self.pid}" if self.running else "stopped"
        return f"<{type(self).__name__} {self.host}:{self.port} {state} in {self.data_dir}>"

    def _failure(self, what: str) -> ServiceError:
        tail = self.log_tail() or "(empty)"
        where = f"{self.name} on {self.host}:{self.port}"
        return ServiceError(f"{where} {what}; log {self.log_path} ends:\n{tail}")

    def _close_log(self) -> None:
        if self._log is not None:
            with contextlib.suppress(OSError):
                self._log.close()
            self._log = None
