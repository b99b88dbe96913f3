"""The pure parts of the experiments: routing through the real balancers, counter summaries,
cluster slot maps."""

from redis.crc import key_slot

from stateline.lab.cluster import parse_nodes, slot_owners, tags_in_slots
from stateline.lab.experiments.accidental_state import summarize
from stateline.lab.experiments.routing import Member, assign, measure

NODES = """\
a1 127.0.0.1:7001@17001 myself,master - 0 0 1 connected 0-5460
b2 127.0.0.1:7002@17002 master - 0 0 2 connected 5461-10922 [5461->-c3]
c3 127.0.0.1:7003@17003 master - 0 0 3 connected 10923-16383
d4 127.0.0.1:7004@17004 slave a1 0 0 1 connected
e5 127.0.0.1:7005@17005 master,fail - 0 0 5 disconnected
"""


def test_growing_3_to_4_moves_about_a_quarter_with_rendezvous_and_most_with_mod_n():
    figures = measure(20_000)
    assert 0.22 < figures["rendezvous"]["moved"] < 0.28
    assert figures["mod_n"]["moved"] > 0.7
    assert figures["round_robin"]["cv_after"] < 0.01
    assert all(f["cv_after"] < 0.05 for f in figures.values())


def test_key_routed_policies_send_a_key_to_the_same_member_every_time():
    members = [Member("a"), Member("b"), Member("c")]
    keys = [f"k{i}".encode() for i in range(200)]
    for policy in ("mod_n", "rendezvous", "hash_slot"):
        assert assign(policy, keys, members) == assign(policy, keys, members)


def test_summary_of_a_local_counter_shows_divergence_and_repeats():
    values = [(1, "a"), (1, "b"), (1, "c"), (2, "a"), (2, "b"), (2, "c"), (-1, "")]
    s = summarize(values, start=0)
    assert s["highest"] == 2 and s["divergence"] == 5
    assert s["repeated_values"] == 4 and s["failed"] == 1
    assert s["highest_per_instance"] == {"a": 2, "b": 2, "c": 2}


def test_summary_of_an_exact_counter_has_no_divergence():
    s = summarize([(v, "x") for v in range(11, 21)], start=10)
    assert s["highest"] == 10 and s["divergence"] == 0 and s["repeated_values"] == 0


def test_cluster_nodes_are_parsed_with_roles_slots_and_failures():
    nodes = {n.id: n for n in parse_nodes(NODES)}
    assert nodes["a1"].addr == "127.0.0.1:7001" and nodes["a1"].slots == ((0, 5460),)
    assert nodes["b2"].slots == ((5461, 10922),)  # the migrating marker is not a range
    assert nodes["d4"].role == "replica" and nodes["d4"].master_id == "a1"
    assert nodes["e5"].failed
    owners = slot_owners(list(nodes.values()))
    assert owners[0] == "127.0.0.1:7001" and owners[16383] == "127.0.0.1:7003"
    assert None not in owners


def test_tags_in_slots_land_in_those_slots():
    wanted = set(range(100, 200))
    tags = tags_in_slots(wanted, 20)
    assert len(tags) == 20
    assert all(key_slot(f"x{{{t}}}y".encode()) in wanted for t in tags)
