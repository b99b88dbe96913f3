"""The host topology's plan: names, addresses and command lines, without running any."""

from __future__ import annotations

import pytest

from stateline.lab import hosts
from stateline.lab.hostsystem import spread
from stateline.lab.netfaults import cut_plan, netem_command


def test_addresses_are_on_the_subnet_and_names_carry_the_run() -> None:
    p = hosts.plan(["gw", "app1"], "172.29.143.0/24", owner_pid=4242, serial=3)
    assert p.run == "4242n3"
    assert p.controller_address == "172.29.143.1"
    assert [(h.netns, h.address) for h in p.hosts] == [
        ("stl-4242n3-gw", "172.29.143.10"), ("stl-4242n3-app1", "172.29.143.11")]
    assert p.controller_link == "stl4242n3" and len(p.controller_link) <= 15
    assert hosts.owner_of_netns("stl-4242n3-gw") == 4242
    assert hosts.owner_of_link("stl4242n3") == 4242
    assert hosts.owner_of_netns("docker0") is None and hosts.owner_of_link("eth0") is None


def test_setup_gives_hosts_no_route_out_and_moves_the_local_rule() -> None:
    p = hosts.plan(["a"], "10.1.2.0/24", owner_pid=1)
    cmds = [" ".join(c) for c in hosts.setup_commands(p)]
    assert not any("default" in c or "forward" in c or "nat" in c for c in cmds)
    assert "ip -n stl-1n0-a rule del priority 0" in cmds
    assert cmds.index("ip -n stl-1n0-a rule add priority 1000 lookup local") < \
        cmds.index("ip -n stl-1n0-a rule del priority 0")
    teardown = [" ".join(c) for c in hosts.teardown_commands(p)]
    assert teardown[0] == "ip link del stl1n0"
    assert set(teardown[1:]) == {f"ip netns del {ns}" for ns in p.namespaces}


@pytest.mark.parametrize("names, subnet", [
    (["Gw"], None), (["a", "a"], None), (["sw"], None), (["a" * 13], None),
    ([f"h{i}" for i in range(250)], "10.0.0.0/24"), (["a"], "fd00::/64"),
])
def test_bad_topologies_are_refused_in_words(names: list[str], subnet: str | None) -> None:
    with pytest.raises(hosts.PlanError):
        hosts.plan(names, subnet)


def test_a_taken_subnet_moves_to_the_next_free_one() -> None:
    used = hosts.subnets_in_use(
        "2: eth0    inet 10.213.71.1/24 brd 10.213.71.255 scope global eth0\n"
        "3: x    inet 10.213.72.5/24 scope global x\n")
    assert hosts.free_subnet("10.213.71.0/24", used) == "10.213.73.0/24"
    assert hosts.free_subnet("10.213.80.0/24", used) == "10.213.80.0/24"


def test_only_dead_owners_things_are_stale() -> None:
    names = ["stl-10n0-sw", "stl-11n0-a", "other", "stl-10n1-b"]
    assert hosts.stale(names, hosts.owner_of_netns, lambda pid: pid == 11) == [
        "stl-10n0-sw", "stl-10n1-b"]
    assert hosts.parse_netns_list("stl-10n0-sw (id: 3)\nfoo\n") == ["stl-10n0-sw", "foo"]
    assert hosts.parse_link_names("7: stl10n0@if5: <UP> mtu 1500\n1: lo: <LOOPBACK>") == [
        "stl10n0", "lo"]


def test_cuts_drop_on_the_receiving_side() -> None:
    p = hosts.plan(["a", "b", "c"], "10.9.9.0/24", owner_pid=1)
    both = {(d.on, d.source) for d in cut_plan(p, "a", ["b", "c"], "both")}
    assert both == {("a", "10.9.9.11"), ("a", "10.9.9.12"), ("b", "10.9.9.10"),
                    ("c", "10.9.9.10")}
    out = {(d.on, d.source) for d in cut_plan(p, "a", ["b"], "out")}
    assert out == {("b", "10.9.9.10")}  # a's packets to b are lost; b's still reach a
    assert {(d.on, d.source) for d in cut_plan(p, "a", ["b"], "in")} == {("a", "10.9.9.11")}
    with pytest.raises(ValueError):
        cut_plan(p, "a", ["b"], "sideways")


def test_netem_command_and_its_bounds() -> None:
    assert netem_command("ns", delay_ms=50, jitter_ms=5, loss_pct=1) == [
        "tc", "-n", "ns", "qdisc", "replace", "dev", "eth0", "root", "netem",
        "delay", "50ms", "5ms", "loss", "1%"]
    with pytest.raises(ValueError):
        netem_command("ns", loss_pct=101)


def test_replicas_never_share_a_host_with_their_master() -> None:
    for hosts_n in (2, 3, 6):
        where = spread(6, hosts_n, 3)
        for j in range(3):
            assert where[3 + j] != where[j]
    assert spread(6, 6, 3) == list(range(6))
