"""The exactly-once tally: duplicates and losses from ops and the state they left."""

from stateline.lab.retrying import Op, tally


def test_cart_lines_count_each_op_exactly():
    ops = [Op("cart", "a", acked=True), Op("cart", "b", acked=True), Op("cart", "c"),
           Op("cart", "d", acked=True)]
    # a applied twice (a retry duplicated it), b once, c (never acked) once, d lost
    counts = tally(ops, {"a": 2, "b": 1, "c": 1}, 0)
    assert counts["duplicates_cart"] == 1 and counts["lost_acknowledged"] == 1
    assert counts["acknowledged"] == 3 and counts["unresolved"] == 1


def test_counter_growth_gives_lower_bounds():
    acked = [Op("counter", acked=True) for _ in range(10)]
    unresolved = [Op("counter") for _ in range(2)]
    assert tally(acked + unresolved, {}, 13)["duplicates_counter"] == 1
    assert tally(acked + unresolved, {}, 12)["duplicates_counter"] == 0
    assert tally(acked + unresolved, {}, 9)["lost_acknowledged"] == 1


def test_a_user_create_refused_as_taken_is_counted():
    ops = [Op("user", acked=True), Op("user", attempts=2, code="email_taken")]
    counts = tally(ops, {}, 0)
    assert counts["users"] == 2 and counts["users_refused_as_taken"] == 1
    assert counts["duplicates"] == 0
