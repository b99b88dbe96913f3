"""The rule table: ids and names, --select/--ignore, precedence."""

from __future__ import annotations

import pytest

from stateline.lint.rules import PRECEDENCE, RULES, UnknownRuleError, active_rules, resolve_rule


def test_rules_resolve_by_id_or_name_case_insensitively() -> None:
    assert resolve_rule("sl102") == "SL102"
    assert resolve_rule("container-mutation") == "SL102"
    assert resolve_rule("Global-Rebind") == "SL101"


def test_unknown_rule_is_a_usage_error() -> None:
    with pytest.raises(UnknownRuleError):
        resolve_rule("SL999")


def test_select_then_ignore_with_commas_and_repeats() -> None:
    assert active_rules(["SL101,container-mutation"], ["SL102"]) == {"SL101"}
    assert active_rules([], ["SL107"]) == set(RULES) - {"SL107"}


def test_precedence_matches_the_contract_and_every_rule_has_a_fix() -> None:
    assert PRECEDENCE[0] == "SL114"
    assert PRECEDENCE.index("SL104") < PRECEDENCE.index("SL103") < PRECEDENCE.index("SL101")
    for rule in RULES.values():
        assert rule.severity in ("error", "warning", "info")
        assert rule.fix
    assert RULES["SL107"].severity == RULES["SL118"].severity == "warning"
