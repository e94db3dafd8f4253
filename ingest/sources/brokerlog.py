"""What the broker refused, read from its log (#15 point 7): connections with a wrong password or an unknown
user, and publications its ACL denied. Neither ever reaches the ingest service as a message, so without this a
device that cannot get its data in leaves no trace where staff look.

Mosquitto 2 writes ``Client <unknown> disconnected, not authorised.`` after ``New connection from ADDR on port
P.`` at its notice level, and ``Denied PUBLISH from CLIENT (..., 'TOPIC', ...)`` at its debug level, which the
local stack turns on for its own broker (README: "The broker" says what that costs and how compose does it).
The log is followed like ``tail -F``: from near its end at start, through truncation and rotation. Counts and
the newest samples are kept, bounded, whatever the broker writes.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import time
from collections import Counter, deque
from dataclasses import dataclass
from pathlib import Path

from iot_suitcase.devices.credentials.mosquitto import TENANT_SEPARATOR
from iot_suitcase.devices.credentials.store import INTEGRATION_USER_PREFIX

log = logging.getLogger(__name__)

NOT_AUTHORISED = "not_authorised"
ACL_DENIED = "acl_denied"
NETWORK_SERVER_DENIED = "network_server_denied"  # an ACL denial of a network server's account: its own text
_NEW_CONNECTION = re.compile(r"New connection from (\S+?)(?::\d+)? on port \d+\.")
_REFUSED = re.compile(r"Client (\S+) disconnected, not authorised\.")
_DENIED = re.compile(r"Denied PUBLISH from (\S+) \(d\d, q\d, r\d, m\d+, '(.*)', \.\.\. \(\d+ bytes\)\)")
WHAT_TO_DO = {
    NOT_AUTHORISED: "wrong password or unknown user: a device logs in with its id as user name and the password "
    "`suitcase devices credentials ID` issued (a new one replaces the old)",
    ACL_DENIED: "%(client)s may publish only under its own topics (<root>/%(client)s/...): check its topic",
    NETWORK_SERVER_DENIED: "%(client)s is a network server's account: it may publish only that network server's "
    "uplink topics (`suitcase integrations add` printed them): check the topic set in the network server",
}
_TAIL_START_BYTES = 64 * 1024  # at start, the refusals of the last moments before it: shown again after a restart
_READ_BYTES = 1 << 20
_TEXT_CHARS = 120


@dataclass(frozen=True, slots=True)
class BrokerRefusal:
    at: float  # epoch seconds, when it was read
    kind: str  # NOT_AUTHORISED or ACL_DENIED
    client: str  # the client id (a device's id, which is its user name), "-" when the broker did not know it
    topic: str
    address: str

    @property
    def help(self) -> str:
        """What to do, with ``%(client)s`` for the client: the one text, which the console translates."""
        if self.kind == ACL_DENIED and self.client.startswith(INTEGRATION_USER_PREFIX):
            return WHAT_TO_DO[NETWORK_SERVER_DENIED]
        return WHAT_TO_DO[self.kind]

    @property
    def what_to_do(self) -> str:
        return self.help % {"client": self.client}


class BrokerRefusals:
    """Counts per kind and the newest ``kept`` refusals of one scope's accounts: a tenant's (``<device>@<tenant>``)
    or the installation's own (no ``@``; also every refusal the broker could not name a client for). The broker's
    log is the whole installation's; each service keeps only what is its own, so no tenant sees another's
    device ids."""

    def __init__(self, *, kept: int = 50, tenant: str | None = None) -> None:
        self._tenant = tenant
        self.counts: Counter[str] = Counter()
        self._samples: deque[BrokerRefusal] = deque(maxlen=kept)
        self._connection = "-"  # the address of the newest connection, which a refusal right after belongs to

    def read_line(self, line: str) -> BrokerRefusal | None:
        """Take in one line of the broker's log; the refusal it reports, if any."""
        if found := _NEW_CONNECTION.search(line):
            self._connection = found.group(1)[:64]
            return None
        if found := _REFUSED.search(line):
            client = found.group(1)
            return self._add(NOT_AUTHORISED, "-" if client == "<unknown>" else client, "", self._connection)
        if found := _DENIED.search(line):
            return self._add(ACL_DENIED, found.group(1), found.group(2), "-")
        return None

    def _add(self, kind: str, client: str, topic: str, address: str) -> BrokerRefusal | None:
        account, separator, scope = client.partition(TENANT_SEPARATOR)
        if (scope if separator else None) != self._tenant:
            return None  # another scope's account
        client = account  # a tenant's device by its id, as its console and its topics name it
        refusal = BrokerRefusal(time.time(), kind, client[:_TEXT_CHARS], topic[:_TEXT_CHARS], address)
        self.counts[kind] += 1
        self._samples.append(refusal)
        return refusal

    def latest(self) -> list[BrokerRefusal]:
        return list(reversed(self._samples))

    def of(self, client: str) -> list[BrokerRefusal]:
        return [refusal for refusal in self.latest() if refusal.client == client]


class BrokerLogFollower:
    """Follows the broker's log file into ``refusals``; a missing file is waited for, said once."""

    def __init__(self, path: Path, refusals: BrokerRefusals, *, every_s: float = 0.5) -> None:
        self._path = path
        self._refusals = refusals
        self._every_s = every_s
        self._inode: int | None = None
        self._offset = 0
        self._partial = b""
        self._missing_said = False
        self._skip_first = False

    async def run(self) -> None:
        while True:
            await asyncio.to_thread(self.read_new)
            await asyncio.sleep(self._every_s)

    def read_new(self) -> int:
        """Read what the broker wrote since the last call; how many refusals it held."""
        try:
            stat = os.stat(self._path)
            if not os.access(self._path, os.R_OK):
                raise PermissionError(f"cannot read {self._path}")
        except (FileNotFoundError, PermissionError) as error:
            if not self._missing_said:
                log.warning(
                    "the broker's log cannot be read (yet); broker refusals are not shown path=%s error=%s",
                    self._path,
                    error,
                )
                self._missing_said = True
            return 0
        if self._inode != stat.st_ino or stat.st_size < self._offset:  # new, rotated or truncated: from its start
            self._offset = max(0, stat.st_size - _TAIL_START_BYTES) if self._inode is None else 0
            self._inode, self._partial = stat.st_ino, b""
            self._skip_first = self._offset > 0  # started inside a line
            if self._missing_said:
                log.info("reading the broker's log path=%s", self._path)
                self._missing_said = False
        found = 0
        with self._path.open("rb") as file:
            file.seek(self._offset)
            while chunk := file.read(_READ_BYTES):  # a megabyte at a time, however much was written
                self._offset += len(chunk)
                lines = (self._partial + chunk).split(b"\n")
                self._partial = lines.pop()[-4096:]  # a line the broker is still writing
                if self._skip_first and lines:
                    lines, self._skip_first = lines[1:], False
                for line in lines:
                    if self._refusals.read_line(line.decode("utf-8", "replace")) is not None:
                        found += 1
        return found
