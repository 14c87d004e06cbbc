"""Tests for pv.rules.kinds and pv.rules.kaizen: what a kind decides, and the tables behind their
rules."""

from __future__ import annotations

from typing import Any

import pytest

from pv.rules import kaizen, kinds


@pytest.mark.parametrize(
    ("meta", "kind"),
    [
        ({}, "kernel"),
        ({"registry": True}, "registry"),
        ({"registry": True, "kind": "tokenizer"}, "tokenizer"),
        ({"kind": "beat-benchmark"}, "beat-benchmark"),
        ({"kind": 3}, "kernel"),
    ],
)
def test_the_effective_kind_honours_the_legacy_registry_flag(
    meta: dict[str, Any], kind: str
) -> None:
    assert kinds.effective_kind({"metadata": meta}) == kind


@pytest.mark.parametrize(
    ("key", "meant"),
    [
        ("Falsification_Tests", "falsification_tests"),
        ("qa_gates", "qa_gate"),
        ("kani_harness", "kani_harnesses"),
        ("invariants", None),
        ("gates", None),
        ("spec", None),
        ("falsification", "falsification"),
    ],
)
def test_near_misses_fold_case_separators_and_plurals(key: str, meant: str | None) -> None:
    assert kinds.near_miss(key) == meant


@pytest.mark.parametrize(
    ("value", "number"),
    [("40.34", 40.34), ("0", 0.0), ("<5", 5.0), ("<= 12", 12.0), ("1000+", 1000.0),
     ("100%", 100.0), ("6 ms", 6.0), ("1_310_720", 1310720.0), ("-3", -3.0), (9, 9.0)],
)  # fmt: skip
def test_a_measurement_reads_as_a_number(value: object, number: float) -> None:
    assert kaizen.quantity(value) == number


@pytest.mark.parametrize(
    "value",
    ["2026-03-04", "CUBLAS_COMPUTE_32F", "fp32", "OOM", "", "131,072x fewer bytes", True,
     float("inf"), None, "_"],
)  # fmt: skip
def test_prose_dates_and_booleans_are_not_measurements(value: object) -> None:
    assert kaizen.quantity(value) is None


@pytest.mark.parametrize(
    ("name", "cost"),
    [("alloc_size_bytes", True), ("per_forward_overhead_us", True), ("sync_points", True),
     ("cuMemAlloc_per_forward", True), ("d2h_per_block", False), ("batch_size", False),
     ("cache_hit_rate", False)],
)  # fmt: skip
def test_cost_metrics_are_the_ones_a_kaizen_exists_to_reduce(name: str, cost: bool) -> None:
    assert any(f in name.lower() for f in kaizen.COST_FRAGMENTS) is cost
