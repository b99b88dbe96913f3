"""Several "hosts" on one Linux machine: the names, addresses and ``ip`` commands, planned.

Each host is a network namespace with one interface (``eth0``) on one private
subnet. The hosts' veth peers are plugged into a bridge that lives in a
namespace of its own (the "switch"), so the machine's own network (the root
namespace) gets no bridge and no new route except one: a veth for the
*controller*, the process that runs the lab, so that tests and experiments can
talk to every host. No host has a default route, so no packet of theirs can
leave the subnet, and nothing here touches forwarding or NAT.

This module only *plans* (pure functions: names, addresses, command lines);
:mod:`stateline.lab.netns` runs the plan and cleans up. Everything is named
after the process that made it (``stl-<pid>n<serial>-<host>``), so that a later start
can tell a live run's namespaces (leave them) from a killed run's (remove them).

The default subnet ``10.213.71.0/24`` is unusual on purpose; ``STATELINE_HOSTS_SUBNET``
or ``subnet=`` picks another. The controller is ``.1``, hosts get ``.10`` onwards.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

PREFIX = "stl"
DEFAULT_SUBNET = "10.213.71.0/24"
SUBNET_ENV = "STATELINE_HOSTS_SUBNET"
FIRST_HOST_OFFSET = 10
BRIDGE = "br0"
HOST_IF = "eth0"
#: Where each host's "local" table lookup moves to (from 0), so drop rules (900) come first.
LOCAL_RULE_PRIORITY = 1000
_NAME = re.compile(r"^[a-z][a-z0-9]{0,11}$")
_NETNS = re.compile(rf"^{PREFIX}-((\d+)n\d+)-([a-z0-9]+)$")
_ROOT_LINK = re.compile(rf"^{PREFIX}((\d+)n\d+)$")


class PlanError(ValueError):
    """The requested topology cannot be laid out (bad name, subnet too small)."""


@dataclass(frozen=True)
class HostPlan:
    """One host: its namespace, its address, and its port on the switch."""

    name: str
    netns: str
    address: str
    switch_port: str

    def argv(self, command: list[str]) -> list[str]:
        """``command`` run inside this host (``ip netns exec`` execs it: same pid)."""
        return ["ip", "netns", "exec", self.netns, *command]


@dataclass(frozen=True)
class TopologyPlan:
    """Everything one run creates, by name: enough to create it and to remove it."""

    owner_pid: int
    #: ``<pid>n<serial>``: one process may run several topologies at once.
    run: str
    subnet: str
    switch_netns: str
    controller_link: str
    controller_address: str
    hosts: tuple[HostPlan, ...]

    @property
    def prefixlen(self) -> int:
        return ipaddress.ip_network(self.subnet).prefixlen

    def host(self, name: str) -> HostPlan:
        for h in self.hosts:
            if h.name == name:
                return h
        raise KeyError(name)

    @property
    def namespaces(self) -> list[str]:
        return [self.switch_netns, *(h.netns for h in self.hosts)]


def netns_name(run: str, name: str) -> str:
    return f"{PREFIX}-{run}-{name}"


def plan(names: Iterable[str], subnet: str | None = None,
         owner_pid: int | None = None, serial: int = 0) -> TopologyPlan:
    """Lay out hosts ``names`` on ``subnet`` (default: the environment's, else 10.213.71.0/24)."""
    names = list(names)
    pid = os.getpid() if owner_pid is None else owner_pid
    run = f"{pid}n{serial}"
    net = ipaddress.ip_network(subnet or os.environ.get(SUBNET_ENV) or DEFAULT_SUBNET,
                               strict=True)
    if not isinstance(net, ipaddress.IPv4Network):
        raise PlanError(f"{net}: an IPv4 subnet is needed")
    if len(set(names)) != len(names):
        raise PlanError(f"host names must be unique: {names}")
    for n in names:
        if not _NAME.match(n) or n == "sw":
            raise PlanError(f"bad host name {n!r}: 1-12 lower-case letters/digits, "
                            "starting with a letter, not 'sw'")
    usable = list(net.hosts())
    if len(usable) < FIRST_HOST_OFFSET + len(names):
        raise PlanError(f"{net} has room for {max(0, len(usable) - FIRST_HOST_OFFSET)} "
                        f"hosts, {len(names)} asked")
    hosts = tuple(
        HostPlan(name=n, netns=netns_name(run, n),
                 address=str(usable[FIRST_HOST_OFFSET - 1 + i]), switch_port=f"p{i}")
        for i, n in enumerate(names))
    return TopologyPlan(owner_pid=pid, run=run, subnet=str(net),
                        switch_netns=netns_name(run, "sw"),
                        controller_link=f"{PREFIX}{run}", controller_address=str(usable[0]),
                        hosts=hosts)


def setup_commands(p: TopologyPlan) -> list[list[str]]:
    """The ``ip`` command lines that build ``p``, in order."""
    sw = p.switch_netns
    cmds: list[list[str]] = [
        ["ip", "netns", "add", sw],
        ["ip", "-n", sw, "link", "add", BRIDGE, "type", "bridge"],
        ["ip", "-n", sw, "link", "set", BRIDGE, "up"],
    ]
    for h in p.hosts:
        cmds += [
            ["ip", "netns", "add", h.netns],
            ["ip", "-n", sw, "link", "add", h.switch_port, "type", "veth",
             "peer", "name", HOST_IF, "netns", h.netns],
            ["ip", "-n", sw, "link", "set", h.switch_port, "master", BRIDGE, "up"],
            ["ip", "-n", h.netns, "link", "set", "lo", "up"],
            ["ip", "-n", h.netns, "addr", "add", f"{h.address}/{p.prefixlen}", "dev", HOST_IF],
            ["ip", "-n", h.netns, "link", "set", HOST_IF, "up"],
            # The "local" table is looked up at priority 0, before any rule we could
            # add, so a drop rule would never see packets for this host: move it down.
            ["ip", "-n", h.netns, "rule", "add", "priority", str(LOCAL_RULE_PRIORITY),
             "lookup", "local"],
            ["ip", "-n", h.netns, "rule", "del", "priority", "0"],
        ]
    cmds += [
        ["ip", "link", "add", p.controller_link, "type", "veth",
         "peer", "name", "ctl", "netns", sw],
        ["ip", "-n", sw, "link", "set", "ctl", "master", BRIDGE, "up"],
        ["ip", "addr", "add", f"{p.controller_address}/{p.prefixlen}",
         "dev", p.controller_link],
        ["ip", "link", "set", p.controller_link, "up"],
    ]
    return cmds


def teardown_commands(p: TopologyPlan) -> list[list[str]]:
    """Remove everything of ``p`` (each may fail harmlessly if already gone)."""
    return [["ip", "link", "del", p.controller_link],
            *(["ip", "netns", "del", ns] for ns in reversed(p.namespaces))]


def owner_of_netns(name: str) -> int | None:
    """The pid a namespace of ours was made by; ``None`` if it is not ours."""
    m = _NETNS.match(name)
    return int(m.group(2)) if m else None


def owner_of_link(name: str) -> int | None:
    m = _ROOT_LINK.match(name)
    return int(m.group(2)) if m else None


def run_of(name: str) -> str | None:
    """The run tag (``<pid>n<serial>``) of one of our namespaces or links."""
    m = _NETNS.match(name) or _ROOT_LINK.match(name)
    return m.group(1) if m else None


def parse_netns_list(text: str) -> list[str]:
    """``ip netns list`` output ("name (id: 3)" lines) as names."""
    return [line.split()[0] for line in text.splitlines() if line.strip()]


def parse_link_names(text: str) -> list[str]:
    """``ip -o link show`` output as interface names (``stl123@if5`` → ``stl123``)."""
    out: list[str] = []
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) >= 2:
            out.append(parts[1].strip().split("@", 1)[0])
    return out


def subnets_in_use(addr_text: str) -> set[str]:
    """Networks of the root namespace's IPv4 addresses (``ip -o -4 addr show`` output)."""
    nets: set[str] = set()
    for line in addr_text.splitlines():
        parts = line.split()
        if "inet" in parts:
            cidr = parts[parts.index("inet") + 1]
            nets.add(str(ipaddress.ip_interface(cidr).network))
    return nets


def free_subnet(wanted: str, in_use: set[str], tries: int = 64) -> str:
    """``wanted`` if no local address is on it, else the next /N up that is free.

    Two runs at once (parallel test sessions) must not put the same subnet on
    two controller links: the root namespace would route it to only one.
    """
    net = ipaddress.ip_network(wanted)
    overlapping = [ipaddress.ip_network(n) for n in in_use]
    for _ in range(tries):
        if not any(net.overlaps(o) for o in overlapping):
            return str(net)
        nxt = int(net.network_address) + net.num_addresses
        net = ipaddress.ip_network(f"{ipaddress.ip_address(nxt)}/{net.prefixlen}")
    raise PlanError(f"no free subnet near {wanted}: set {SUBNET_ENV}")


def stale(names: Iterable[str], owner: Callable[[str], int | None],
          alive: Callable[[int], bool]) -> list[str]:
    """Those of ``names`` that are ours (``owner(name)`` is a pid) and whose maker is dead."""
    out = []
    for n in names:
        pid = owner(n)
        if pid is not None and not alive(pid):
            out.append(n)
    return out
