"""Tests for pv.core.findings."""

from __future__ import annotations

import pytest

from pv.core.findings import Finding, count, json_path, sort_findings


def _f(**kw: object) -> Finding:
    base: dict[str, object] = {
        "rule": "R-1", "severity": "error", "file": "a.yaml", "line": 1, "column": 1,
        "path": "$", "message": "m",
    }  # fmt: skip
    base.update(kw)
    return Finding(**base)  # type: ignore[arg-type]


def test_json_path_renders_keys_indices_and_odd_keys() -> None:
    assert json_path(()) == "$"
    assert json_path(("falsification_tests", 2, "id")) == "$.falsification_tests[2].id"
    assert json_path(("a b", "it's")) == "$['a b']['it\\'s']"


def test_finding_round_trips_through_a_dict() -> None:
    finding = _f(suggestion="do x", line=3, column=7)
    assert Finding.from_dict(finding.to_dict()) == finding


@pytest.mark.parametrize(("field", "value"), [("severity", "fatal"), ("line", 0), ("column", 0)])
def test_finding_refuses_bad_severity_or_zero_positions(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=r"severity|1-based"):
        _f(**{field: value})


def test_from_dict_refuses_non_integer_lines() -> None:
    raw = _f().to_dict()
    raw["line"] = "3"
    with pytest.raises(TypeError):
        Finding.from_dict(raw)
    raw = _f().to_dict()
    raw["severity"] = "bogus"
    with pytest.raises(ValueError, match="severity"):
        Finding.from_dict(raw)


def test_sort_orders_by_file_then_position_then_severity() -> None:
    a = _f(file="b.yaml", line=1)
    b = _f(file="a.yaml", line=9)
    c = _f(file="a.yaml", line=2, severity="warning")
    d = _f(file="a.yaml", line=2, severity="error")
    assert sort_findings([a, b, c, d]) == [d, c, b, a]
    assert count([a, b, c, d], "warning") == 1
