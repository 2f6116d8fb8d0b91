"""Test hosts on this machine: network namespaces joined by veth pairs to one bridge.

A :class:`HostNetwork` turns a list of roles (``server``, ``master``, ``worker1``...)
into hosts: one network namespace each, its loopback up and an ``eth0`` with an
address in ``10.77.0.0/24``. Each ``eth0`` is one end of a veth pair whose other
end sits on a bridge in a namespace of its own (the switch), so the machine's
own namespace gets no interface, route or address: the hosts reach each other
and nothing else. With a link rate, every link is shaped in both directions by
a token bucket (``tc qdisc ... tbf``); this kernel has no ``netem``, so there is
no delay or loss to add.

Every name starts with ``iomt<pid>-`` (the pid of the process that made them):
:meth:`HostNetwork.down` removes them all (first stopping any process left in
them), :func:`leftovers` lists what is left of one network and
:func:`sweep_stale` removes the hosts of runs whose process died without cleaning up.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import signal
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from types import TracebackType

import psutil

log = logging.getLogger(__name__)

PREFIX = "iomt"
SUBNET = "10.77.0"
FIRST_HOST = 2  # 10.77.0.1 is left unused: no gateway, the hosts only reach each other
_RATE = re.compile(r"(\d+(?:\.\d+)?)(k|m|g)?bit", re.IGNORECASE)
_SCALE = {None: 1, "k": 1_000, "m": 1_000_000, "g": 1_000_000_000}


class NetnsUnavailable(RuntimeError):
    """Test hosts cannot be made here; the message says why in one line."""


class NetnsError(RuntimeError):
    """An ``ip`` or ``tc`` command failed while making the test hosts (its stderr in the message)."""


def parse_rate(text: str) -> int:
    """A link rate as ``tc`` writes it (``512kbit``, ``100mbit``, ``1gbit``), in bits per second.

    Raises:
        ValueError: not such a rate, or outside 8 kbit/s .. 100 gbit/s.
    """
    match = _RATE.fullmatch(text.strip())
    if not match:
        raise ValueError(f"{text!r} is not a link rate: use e.g. 512kbit, 100mbit, 1gbit")
    bits = int(float(match.group(1)) * _SCALE[(match.group(2) or "").lower() or None])
    if not 8_000 <= bits <= 100_000_000_000:
        raise ValueError(f"{text!r} is out of range: use 8kbit to 100gbit")
    return bits


def check_support(*, shaping: bool = False) -> None:
    """Raise :class:`NetnsUnavailable` unless this process can make test hosts.

    Root, ``ip`` on PATH (``tc`` too when ``shaping``) and a kernel that lets a
    namespace be made (tried with a throwaway one).
    """
    if os.geteuid() != 0:
        raise NetnsUnavailable("test hosts need root (they create network namespaces)")
    for tool in ("ip", "tc") if shaping else ("ip",):
        if shutil.which(tool) is None:
            raise NetnsUnavailable(f"test hosts need the {tool!r} command (iproute2): not on PATH")
    probe = f"{PREFIX}{os.getpid()}-probe"
    made = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if made.returncode != 0:
        reason = (made.stderr.strip().splitlines() or ["ip netns add failed"])[-1]
        raise NetnsUnavailable(f"no network namespaces here: {reason}")
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)


def _run(*cmd: str) -> None:
    done = subprocess.run(list(cmd), capture_output=True, text=True)
    if done.returncode != 0:
        raise NetnsError(f"{' '.join(cmd)}: {done.stderr.strip()}")


def namespaces() -> list[str]:
    """The names ``ip netns list`` shows."""
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def root_links() -> list[str]:
    """The interface names of this machine's own namespace (``ip -o link``)."""
    out = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    return [line.split(":")[1].strip().split("@")[0] for line in out.splitlines() if ":" in line]


def leftovers(tag: str) -> list[str]:
    """Namespaces and links of the machine's namespace whose names start with ``tag``."""
    return [name for name in [*namespaces(), *root_links()] if name.startswith(tag)]


def _delete_namespace(name: str) -> None:
    """Stop every process still inside namespace ``name``, then delete it (its veths go with it)."""
    pids = subprocess.run(["ip", "netns", "pids", name], capture_output=True, text=True).stdout
    for pid in (int(p) for p in pids.split()):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    subprocess.run(["ip", "netns", "del", name], capture_output=True)


def sweep_stale() -> list[str]:
    """Delete the namespaces of host networks whose process is gone (killed with SIGKILL); their names."""
    stale = []
    for name in namespaces():
        owner = re.match(rf"{PREFIX}(\d+)-", name)
        if owner and not psutil.pid_exists(int(owner.group(1))):
            _delete_namespace(name)
            stale.append(name)
    return stale


@dataclass(frozen=True)
class Host:
    """One test host: its role, its namespace and its address on the bridge."""

    role: str
    netns: str
    address: str

    def exec_prefix(self) -> list[str]:
        """The command prefix that runs a program on this host."""
        return ["ip", "netns", "exec", self.netns]


class HostNetwork:
    """Hosts in network namespaces on one bridge; a context manager that always cleans up.

    Args:
        roles: one name per host (``server``, ``master``, ``worker1``...).
        link_rate: bits per second for every link, each way (``None``: unshaped).
    """

    def __init__(self, roles: Sequence[str], link_rate: int | None = None) -> None:
        if len(roles) > 250 or len(set(roles)) != len(roles):
            raise ValueError(f"roles must be distinct and at most 250: {list(roles)}")
        self.tag = f"{PREFIX}{os.getpid()}-"
        self.switch = f"{self.tag}switch"
        self.link_rate = link_rate
        self.hosts = {
            role: Host(role, f"{self.tag}{role}", f"{SUBNET}.{FIRST_HOST + i}")
            for i, role in enumerate(roles)
        }
        self._made: list[str] = []

    def up(self) -> HostNetwork:
        """Make the switch and every host; on failure remove what was made and re-raise."""
        try:
            self._add_namespace(self.switch)
            _run("ip", "-n", self.switch, "link", "add", "br0", "type", "bridge")
            _run("ip", "-n", self.switch, "link", "set", "br0", "up")
            for index, host in enumerate(self.hosts.values()):
                self._add_host(host, f"port{index}")
        except BaseException:
            self.down()
            raise
        log.info("test hosts up: %s", ", ".join(f"{h.role} {h.address}" for h in self))
        return self

    def _add_namespace(self, name: str) -> None:
        _run("ip", "netns", "add", name)
        self._made.append(name)
        _run("ip", "-n", name, "link", "set", "lo", "up")

    def _add_host(self, host: Host, port: str) -> None:
        self._add_namespace(host.netns)
        _run(
            "ip", "-n", self.switch, "link", "add", port, "type", "veth",
            "peer", "name", "eth0", "netns", host.netns,
        )  # fmt: skip
        _run("ip", "-n", self.switch, "link", "set", port, "master", "br0", "up")
        _run("ip", "-n", host.netns, "addr", "add", f"{host.address}/24", "dev", "eth0")
        _run("ip", "-n", host.netns, "link", "set", "eth0", "up")
        if self.link_rate:
            self._shape(self.switch, port)  # towards the host
            self._shape(host.netns, "eth0")  # from the host

    def _shape(self, netns: str, dev: str) -> None:
        """A token bucket of ``link_rate`` on ``dev``'s egress (burst: 10 ms of the rate, 16 KB at least)."""
        assert self.link_rate
        burst = max(self.link_rate // 8 // 100, 16_384)
        _run(
            "ip", "netns", "exec", netns, "tc", "qdisc", "add", "dev", dev, "root", "tbf",
            "rate", f"{self.link_rate}bit", "burst", str(burst), "latency", "50ms",
        )  # fmt: skip

    def down(self) -> None:
        """Remove every namespace made (hosts first, then the switch), with the links in them."""
        for name in reversed(self._made):
            _delete_namespace(name)
        self._made.clear()

    def __iter__(self) -> Iterator[Host]:
        return iter(self.hosts.values())

    def __getitem__(self, role: str) -> Host:
        return self.hosts[role]

    def __enter__(self) -> HostNetwork:
        return self.up()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.down()
