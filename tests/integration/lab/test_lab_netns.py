"""Real network namespaces: reachability, cuts one way and both, heal, and clean-up.

Needs root (skipped locally without it, required under CI). Reachability is
probed with a TCP connect from inside a host; a cut host's SYN is dropped
silently, so the probe's connect timeout is what it sees.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator

import pytest

from stateline.lab.netfaults import Faults, NetemUnavailable, rules_of
from stateline.lab.netns import Hosts, leftovers, remove_stale

pytestmark = pytest.mark.timeout(120)

PORT = 7000
LISTEN = textwrap.dedent("""
    import socket, sys
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((sys.argv[1], int(sys.argv[2]))); s.listen(64); print("ready", flush=True)
    while True:
        c, _ = s.accept(); c.close()
""")
CONNECT = ("import socket,sys; "
           "socket.create_connection((sys.argv[1], int(sys.argv[2])), float(sys.argv[3]))")


@pytest.fixture
def hosts(needs_hosts: None) -> Iterator[Hosts]:
    with Hosts(["a", "b", "c"]) as h:
        for name in ("a", "b", "c"):
            p = subprocess.Popen(h.argv(name, [sys.executable, "-c", LISTEN, h.address(name),
                                               str(PORT)]), stdout=subprocess.PIPE)
            assert p.stdout is not None and p.stdout.readline().strip() == b"ready"
            h._procs.append(p)
        yield h


def reaches(h: Hosts, src: str, dst: str, timeout: float = 0.5) -> bool:
    """One TCP connect from ``src`` to ``dst``: what a cut host sees is this timeout."""
    argv = [sys.executable, "-c", CONNECT, h.address(dst), str(PORT), str(timeout)]
    return h.run(src, argv).returncode == 0


def connects(h: Hosts, src: str, dst: str) -> bool:
    """``src`` reaches ``dst`` within a few tries of 2 s each.

    A cut drops every packet, so a refusal needs one short try (``reaches``); but a
    success must not hinge on one handshake finishing in 0.5 s on a busy machine.
    """
    return any(reaches(h, src, dst, timeout=2.0) for _ in range(5))


def test_hosts_reach_each_other_on_their_own_addresses_only(hosts: Hosts) -> None:
    assert all(connects(hosts, s, d) for s in "abc" for d in "abc" if s != d)
    # Loopback inside a host is its own: nothing of another host listens there.
    assert hosts.run("a", [sys.executable, "-c", CONNECT, "127.0.0.1", str(PORT), "0.5"]).returncode
    # No host has a route out of the subnet.
    routes = hosts.run("a", ["ip", "route", "show"]).stdout
    assert "default" not in routes and hosts.plan.subnet in routes


def test_a_two_way_cut_and_heal(hosts: Hosts) -> None:
    f = Faults(hosts.plan)
    f.cut("a", ["b"])
    assert not reaches(hosts, "a", "b") and not reaches(hosts, "b", "a")
    assert connects(hosts, "a", "c") and connects(hosts, "c", "b")
    f.heal()
    assert connects(hosts, "a", "b") and connects(hosts, "b", "a")
    assert rules_of(hosts["a"].netns) == rules_of(hosts["b"].netns) == []


def test_a_one_way_cut_drops_only_that_direction(hosts: Hosts) -> None:
    f = Faults(hosts.plan)
    f.cut("a", ["b"], direction="out")
    assert rules_of(hosts["b"].netns) and not rules_of(hosts["a"].netns)
    # a's SYN to b is lost; b's SYN reaches a but a's answer is lost on the way back,
    # so TCP fails both ways, while UDP from b to a would still arrive.
    assert not reaches(hosts, "a", "b")
    f.heal()
    assert connects(hosts, "a", "b")


def test_latency_needs_sch_netem_and_says_so_when_missing(hosts: Hosts) -> None:
    f = Faults(hosts.plan)
    try:
        f.slow("a", delay_ms=20)
    except NetemUnavailable as exc:
        assert "sch_netem" in str(exc)
    else:
        qdisc = hosts.run("a", ["tc", "qdisc", "show", "dev", "eth0"]).stdout
        assert "netem" in qdisc and "20ms" in qdisc
        f.heal()
        assert "netem" not in hosts.run("a", ["tc", "qdisc", "show", "dev", "eth0"]).stdout


MAKER = textwrap.dedent("""
    import subprocess, sys, time
    from stateline.lab.netns import Hosts
    h = Hosts(["x", "y"]).create()
    subprocess.Popen(h.argv("x", ["sleep", "600"]))
    print(h.plan.run, flush=True)
    time.sleep(600)
""")


def test_the_next_start_removes_what_a_killed_run_left(needs_hosts: None) -> None:
    maker = subprocess.Popen([sys.executable, "-c", MAKER], stdout=subprocess.PIPE)
    assert maker.stdout is not None
    run = maker.stdout.readline().decode().strip()
    left = leftovers(run)
    assert len(left["namespaces"]) == 3 and left["links"] and left["processes"]
    os.kill(maker.pid, signal.SIGKILL)  # no atexit, no handler: as a crash
    maker.wait(10)
    assert leftovers(run)["namespaces"]  # still there: only the next start removes them
    removed = remove_stale()
    assert set(left["namespaces"]) <= set(removed)
    assert leftovers(run) == {"namespaces": [], "links": [], "processes": []}


def test_sigterm_removes_everything_at_once(needs_hosts: None) -> None:
    maker = subprocess.Popen([sys.executable, "-c", MAKER], stdout=subprocess.PIPE)
    assert maker.stdout is not None
    run = maker.stdout.readline().decode().strip()
    assert leftovers(run)["processes"]
    maker.send_signal(signal.SIGTERM)
    assert maker.wait(30) == 128 + signal.SIGTERM
    assert leftovers(run) == {"namespaces": [], "links": [], "processes": []}
