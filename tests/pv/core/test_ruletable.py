"""The rule table is the one place a rule is declared: every rule any module can report is
in it with a title and a help text, every row is reported somewhere, and `pv rules`, SARIF and
the JSON Schema read it."""

from __future__ import annotations

import json
import re
from pathlib import Path

from click.testing import CliRunner

import pv
from pv.cli import main
from pv.contracts.result import Report
from pv.core.findings import Finding
from pv.core.ruletable import RULES
from pv.views.formats import sarif

RULE_ID = re.compile(
    r"[\"'](?P<id>(?:LOAD|SCHEMA|PROVABILITY|BEAT|CRUX|KAIZEN|PARITY|BINDING|EXT-CORPORA"
    r"|PM-SHAPE|PV|DRIFT|GATE|GRAPH)-\d{3})[\"']"
)
SOURCES = {p: p.read_text(encoding="utf-8") for p in Path(pv.__file__).parent.rglob("*.py")}


def test_every_rule_a_module_names_is_declared_with_a_title_and_help() -> None:
    named = {
        m["id"]: path.name
        for path, text in SOURCES.items()
        if path.name != "ruletable.py"
        for m in RULE_ID.finditer(text)
    }
    assert set(named) <= set(RULES), {r: f for r, f in named.items() if r not in RULES}
    for rule in RULES.values():
        assert rule.title, rule.id
        assert rule.help, rule.id
        assert rule.severity in ("error", "warning"), rule.id


def test_every_declared_rule_is_reported_by_some_module() -> None:
    named = {
        m["id"] for p, t in SOURCES.items() if p.name != "ruletable.py" for m in RULE_ID.finditer(t)
    }
    assert set(RULES) - named == set()


def test_pv_rules_lists_every_rule_and_explains_one() -> None:
    listing = CliRunner().invoke(main, ["rules"])
    assert listing.exit_code == 0
    assert [line.split()[0] for line in listing.output.splitlines()] == list(RULES)
    one = CliRunner().invoke(main, ["rules", "drift-060"])
    assert one.output.startswith("DRIFT-060 (error): a waiver that matches no finding\n")
    family = json.loads(CliRunner().invoke(main, ["rules", "PARITY", "--format", "json"]).output)
    assert {r["id"] for r in family} == {r for r in RULES if r.startswith("PARITY-")}
    unknown = CliRunner().invoke(main, ["rules", "SCHEMA-099"])
    assert unknown.exit_code == 2
    assert "no rule or family SCHEMA-099" in unknown.output


def test_sarif_describes_drift_and_gate_rules_from_the_table() -> None:
    finding = Finding(
        rule="DRIFT-010", severity="error", file="r.yaml", line=1, column=1, path="$", message="m"
    )
    run = json.loads(sarif(Report(files=(), findings=(finding,))))["runs"][0]
    (rule,) = run["tool"]["driver"]["rules"]
    assert rule["shortDescription"]["text"] == RULES["DRIFT-010"].title
    assert rule["help"]["text"] == RULES["DRIFT-010"].help


def test_the_json_schema_names_the_rules_that_check_a_field() -> None:
    printed = json.loads(CliRunner().invoke(main, ["schema"]).output)
    version = printed["$defs"]["metadata"]["properties"]["version"]["description"]
    assert "PV-010 (error)" in version
    assert "SCHEMA-002 (error)" in version
