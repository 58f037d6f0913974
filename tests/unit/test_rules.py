"""The rules of `sql/rules/`: loaded by name, each one insert with the run id as its only
parameter, each documented in docs/reconciliation.md."""

from __future__ import annotations

import re

import sql
from tests.support import ROOT


def test_every_rule_is_one_insert_into_the_run_findings_taking_the_run_id() -> None:
    rules = sql.rules()
    assert len(rules) >= 13
    for name, rule in rules.items():
        assert rule.name == name
        assert re.search(rf"'{name}'", rule.sql), f"{name} inserts findings under its own name"
        assert "$1" in rule.sql and "$2" not in rule.sql, f"{name} takes only the run id"
        assert "now()" not in rule.sql.lower(), f"{name} must not depend on the clock"


def test_every_rule_has_its_paragraph_in_the_docs() -> None:
    text = (ROOT / "docs" / "reconciliation.md").read_text()
    documented = set(re.findall(r"^### ([a-z_]+)$", text, re.MULTILINE))
    assert documented == set(sql.rules())
