"""Network faults between the hosts of :mod:`stateline.lab.netns`: cut, slow down, heal.

A cut is made with policy routing only (``ip rule ... blackhole``), so it needs
nothing but iproute2: no iptables, no nftables. It is a rule on the
*receiving* host, ``from SENDER blackhole``: packets from the sender are
dropped on arrival, silently, as Jepsen does with ``iptables -A INPUT -s X -j
DROP``. A sender therefore sees timeouts, not errors, which is what a real
partition looks like. A two-way cut puts the rule on both sides.

Latency and loss use ``tc netem`` on the host's interface. It needs the
``sch_netem`` kernel module; where the kernel lacks it (``tc`` answers
"Specified qdisc kind is unknown") :class:`NetemUnavailable` says so, and
cuts still work.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterable
from dataclasses import dataclass, field

from stateline.lab.hosts import HOST_IF, TopologyPlan

#: Our rules' priority: below the main table's 32766, above nothing we did not add.
RULE_PRIORITY = 900


class FaultError(RuntimeError):
    """A fault could not be applied or removed."""


class NetemUnavailable(FaultError):
    """The kernel has no ``sch_netem``: latency and loss cannot be injected here."""


@dataclass(frozen=True)
class Drop:
    """Host ``on`` drops every packet from address ``source``."""

    on: str
    source: str

    def add(self, netns: str) -> list[str]:
        return ["ip", "-n", netns, "rule", "add", "from", f"{self.source}/32",
                "blackhole", "priority", str(RULE_PRIORITY)]

    def delete(self, netns: str) -> list[str]:
        return ["ip", "-n", netns, "rule", "del", "from", f"{self.source}/32",
                "blackhole", "priority", str(RULE_PRIORITY)]


def cut_plan(p: TopologyPlan, host: str, others: Iterable[str],
             direction: str = "both", controller: bool = False) -> list[Drop]:
    """The drops that cut ``host`` off from ``others``.

    ``direction``: ``both``; ``out`` (``host``'s packets to them are lost, theirs
    still arrive); ``in`` (theirs are lost). ``controller=True`` also cuts it
    off from the lab's own address (a client or checker running in the root
    namespace) for the same direction.
    """
    if direction not in ("both", "out", "in"):
        raise ValueError(f"direction must be both, out or in, not {direction!r}")
    me = p.host(host)
    peers = [p.host(o) for o in others if o != host]
    drops: list[Drop] = []
    for peer in peers:
        if direction in ("both", "in"):
            drops.append(Drop(on=me.name, source=peer.address))
        if direction in ("both", "out"):
            drops.append(Drop(on=peer.name, source=me.address))
    if controller and direction in ("both", "in"):
        drops.append(Drop(on=me.name, source=p.controller_address))
    return drops


def netem_command(netns: str, delay_ms: float = 0.0, jitter_ms: float = 0.0,
                  loss_pct: float = 0.0) -> list[str]:
    if delay_ms < 0 or jitter_ms < 0 or not 0 <= loss_pct <= 100:
        raise ValueError("delay and jitter must be >= 0, loss within 0..100 %")
    cmd = ["tc", "-n", netns, "qdisc", "replace", "dev", HOST_IF, "root", "netem"]
    if delay_ms or jitter_ms:
        cmd += ["delay", f"{delay_ms}ms"] + ([f"{jitter_ms}ms"] if jitter_ms else [])
    if loss_pct:
        cmd += ["loss", f"{loss_pct}%"]
    return cmd


def _run(cmd: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=30, check=False)


@dataclass
class Faults:
    """The faults applied to one topology, so that :meth:`heal` removes exactly those."""

    plan: TopologyPlan
    applied: list[Drop] = field(default_factory=list)
    slowed: set[str] = field(default_factory=set)

    def cut(self, host: str, others: Iterable[str], direction: str = "both",
            controller: bool = False) -> list[Drop]:
        """Cut ``host`` off from ``others`` (host names); returns the drops added."""
        drops = [d for d in cut_plan(self.plan, host, others, direction, controller)
                 if d not in self.applied]
        self._apply(drops)
        return drops

    def _apply(self, drops: list[Drop]) -> None:
        """Add ``drops``, one ``ip -batch`` per host, so that a cut lands all at once."""
        by_host: dict[str, list[Drop]] = {}
        for d in drops:
            by_host.setdefault(d.on, []).append(d)
        for on, ds in by_host.items():
            netns = self.plan.host(on).netns
            batch = "".join(" ".join(d.add(netns)[3:]) + "\n" for d in ds)
            done = subprocess.run(["ip", "-n", netns, "-batch", "-"], input=batch,
                                  capture_output=True, text=True, timeout=30, check=False)
            if done.returncode != 0:
                raise FaultError(f"cutting at {on}: {done.stderr.strip()}")
            self.applied.extend(ds)

    def partition(self, side: Iterable[str], direction: str = "both") -> None:
        """Split the hosts in two: ``side`` against every other host."""
        side = list(side)
        rest = [h.name for h in self.plan.hosts if h.name not in side]
        drops = [d for h in side for d in cut_plan(self.plan, h, rest, direction)
                 if d not in self.applied]
        self._apply(list(dict.fromkeys(drops)))

    def slow(self, host: str, delay_ms: float = 0.0, jitter_ms: float = 0.0,
             loss_pct: float = 0.0) -> None:
        """Delay and/or drop a share of ``host``'s outgoing packets (``tc netem``)."""
        done = _run(netem_command(self.plan.host(host).netns, delay_ms, jitter_ms, loss_pct))
        if done.returncode != 0:
            if "unknown" in done.stderr.lower() or "no such file" in done.stderr.lower():
                raise NetemUnavailable(
                    "this kernel has no sch_netem module (tc: "
                    f"{done.stderr.strip()}): latency and loss cannot be injected; "
                    "cuts (ip rule) still work")
            raise FaultError(f"tc netem on {host}: {done.stderr.strip()}")
        self.slowed.add(host)

    def heal(self) -> None:
        """Remove every cut and every netem qdisc this object added."""
        errors = []
        for d in list(self.applied):
            done = _run(d.delete(self.plan.host(d.on).netns))
            if done.returncode != 0 and "No such file" not in done.stderr:
                errors.append(f"{d}: {done.stderr.strip()}")
            self.applied.remove(d)
        for host in list(self.slowed):
            _run(["tc", "-n", self.plan.host(host).netns, "qdisc", "del", "dev", HOST_IF,
                  "root"])
            self.slowed.discard(host)
        if errors:
            raise FaultError("healing left rules behind: " + "; ".join(errors))


def rules_of(netns: str) -> list[str]:
    """Our drop rules in ``netns`` as ``ip rule`` prints them (for tests and status)."""
    out = _run(["ip", "-n", netns, "rule", "show"]).stdout
    return [line.strip() for line in out.splitlines()
            if line.startswith(f"{RULE_PRIORITY}:")]
