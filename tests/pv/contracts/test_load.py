"""Tests for pv.contracts.load: safe loading, refusals as findings, positions and source text."""

from __future__ import annotations

import resource
import time
from pathlib import Path

import pytest
import yaml

from pv.contracts import load
from pv.contracts.load import MAX_BYTES, load_bytes, load_file


def _rules(raw: bytes) -> list[str]:
    return [f.rule for f in load_bytes(raw, "x.yaml").findings]


def test_plain_mapping_loads_with_positions_of_keys_and_items() -> None:
    doc = load_bytes(b"a: 1\nb:\n  - x\n  - y: 2\n", "x.yaml")
    assert doc.data == {"a": 1, "b": ["x", {"y": 2}]}
    assert doc.findings == ()
    assert doc.position(("b",)) == (2, 1)
    assert doc.position(("b", 1)) == (4, 5)
    assert doc.position(("b", 1, "y")) == (4, 5)
    # an unknown path falls back to its nearest known ancestor
    assert doc.position(("b", 1, "nope", 3)) == (4, 5)
    assert doc.position(("zzz",)) == (1, 1)


def test_dates_and_versions_keep_their_source_text() -> None:
    doc = load_bytes(b"created: 2026-04-28\nversion: 1.10\nflag: yes\n", "x.yaml")
    assert doc.data is not None
    assert doc.data["created"] == "2026-04-28"
    assert doc.sources[("version",)] == "1.10"
    assert doc.sources[("flag",)] == "yes"
    assert doc.data["flag"] is True


def test_quoted_and_explicitly_tagged_strings_stay_strings() -> None:
    doc = load_bytes(b'a: "1.10"\nb: !!str 1.10\n', "x.yaml")
    assert doc.data == {"a": "1.10", "b": "1.10"}
    assert doc.sources == {}


def test_merge_keys_are_allowed_and_explicit_keys_win() -> None:
    doc = load_bytes(b"base: &b {x: 1, y: 2}\nd:\n  <<: *b\n  y: 3\n", "x.yaml")
    assert doc.data == {"base": {"x": 1, "y": 2}, "d": {"x": 1, "y": 3}}


def test_merge_of_a_list_of_mappings_and_of_a_scalar() -> None:
    doc = load_bytes(b"a: &a {x: 1}\nb: &b {y: 2}\nc:\n  <<: [*a, *b]\n", "x.yaml")
    assert doc.data is not None
    assert doc.data["c"] == {"x": 1, "y": 2}
    assert _rules(b"a: &a 1\nc:\n  <<: *a\n") == ["LOAD-006"]


@pytest.mark.parametrize(
    ("raw", "rule", "line"),
    [
        (b"a: !!python/object/apply:os.system [ls]\n", "LOAD-010", 1),
        (b"a: !!binary aGk=\n", "LOAD-010", 1),
        (b"a: !custom x\n", "LOAD-010", 1),
        (b"a: !!set {x}\n", "LOAD-010", 1),
        (b"a: 1\n---\nb: 2\n", "LOAD-005", 2),
        (b"", "LOAD-004", 1),
        (b"   \n\n", "LOAD-004", 1),
        (b"# only a comment\n", "LOAD-004", 1),
        (b"- 1\n- 2\n", "LOAD-007", 1),
        (b"just text\n", "LOAD-007", 1),
        (b"a: [1, 2\n", "LOAD-006", 2),
        (b"? [a, b]\n: 1\n", "LOAD-011", 1),
        (b"ok: 1\nbad: \xff\xfe\n", "LOAD-003", 2),
    ],
)
def test_bad_input_is_refused_as_one_located_finding(raw: bytes, rule: str, line: int) -> None:
    doc = load_bytes(raw, "x.yaml")
    assert doc.data is None
    assert [f.rule for f in doc.findings] == [rule]
    assert doc.findings[0].line == line
    assert doc.findings[0].severity == "error"


def test_a_duplicate_key_is_an_error_that_does_not_stop_the_load() -> None:
    doc = load_bytes(b"kind: x\nm:\n  a: 1\n  a: 2\n", "x.yaml")
    assert doc.data == {"kind": "x", "m": {"a": 2}}
    assert [(f.rule, f.severity, f.line) for f in doc.findings] == [("SCHEMA-020", "error", 4)]
    assert "first defined at line 3" in doc.findings[0].message


def test_a_clean_file_builds_no_position_map_until_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    walks: list[object] = []
    monkeypatch.setattr(load._Walker, "walk", lambda self, *a: walks.append(a))
    doc = load_bytes(b"a:\n  b: [x, y]\n", "x.yaml")
    assert doc.position(("a", "b", 1)) == (2, 10)
    assert walks == []  # one lookup follows the tree along its path only
    assert doc.positions == {}  # the patched walker recorded nothing, but was asked now
    assert len(walks) == 1


@pytest.mark.parametrize(
    "value",
    ["yes", "Yes", "no", "y", "n", "on", "Off", "null", "~", "", "nully", "true1", "tRue", "1.0",
     "0x1F", "1_000", "0o17", "012", "2026-01-01", "<<", "=", ".inf", "-.inf", ".nan", "+1",
     "éclair", "the output", "'quoted'", "!!str 1", "[1]", "{a: 1}"],
)  # fmt: skip
def test_the_fast_resolver_gives_the_stock_resolvers_tags(value: str) -> None:
    text = f"k: {value}\n"
    stock = yaml.SafeLoader(text).get_single_node()
    ours = load._Loader(text).get_single_node()
    assert ours.value[0][1].tag == stock.value[0][1].tag


def test_files_over_one_mebibyte_are_refused_without_parsing(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_bytes(b"a: " + b"x" * MAX_BYTES + b"\n")
    assert [f.rule for f in load_file(big).findings] == ["LOAD-002"]


def test_unreadable_path_is_a_finding_not_an_exception(tmp_path: Path) -> None:
    doc = load_file(tmp_path / "missing.yaml", "shown.yaml")
    assert [(f.rule, f.file) for f in doc.findings] == [("LOAD-001", "shown.yaml")]


def _bomb(levels: int) -> bytes:
    lines = ["l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for i in range(1, levels):
        lines.append(f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]")
    return ("\n".join(lines) + "\n").encode()


def test_billion_laughs_is_refused_fast_and_small() -> None:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.process_time()
    doc = load_bytes(_bomb(10), "bomb.yaml")
    spent = time.process_time() - start
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert [f.rule for f in doc.findings] == ["LOAD-009"]
    # not a timing assertion on speed targets: a bomb that was expanded would take hours
    assert spent < 5
    assert grown_kib < 100 * 1024


def test_modest_aliases_within_the_limit_still_load() -> None:
    doc = load_bytes(_bomb(3), "x.yaml")
    assert doc.findings == ()
    assert doc.data is not None
    assert len(doc.data["l2"]) == 9


@pytest.mark.parametrize("depth", [70, 5000])
def test_deep_nesting_is_refused(depth: int) -> None:
    assert _rules(b"a: " + b"[" * depth + b"]" * depth + b"\n") in (["LOAD-008"], ["LOAD-006"])


def test_pure_python_loader_fallback_gives_the_same_data(monkeypatch: pytest.MonkeyPatch) -> None:
    raw = b"a: 1\nb: [x, {c: 2026-01-01}]\n"
    fast = load_bytes(raw, "x.yaml")
    monkeypatch.setattr(load, "_Loader", load.yaml.SafeLoader)
    slow = load_bytes(raw, "x.yaml")
    assert slow.data == fast.data
    assert slow.positions == fast.positions


def test_recursion_in_the_pure_python_composer_is_a_finding(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(load, "_Loader", load.yaml.SafeLoader)
    raw = b"a: " + b"[" * 3000 + b"]" * 3000 + b"\n"
    assert _rules(raw) == ["LOAD-008"]


def test_finding_helper_locates_at_a_path() -> None:
    doc = load_bytes(b"a:\n  b: 1\n", "f.yaml")
    finding = doc.finding("X-1", "warning", ("a", "b"), "msg", "hint")
    assert (finding.line, finding.column, finding.path) == (2, 3, "$.a.b")
    assert finding.suggestion == "hint"
