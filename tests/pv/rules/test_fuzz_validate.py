"""Fuzz: random and mutated YAML (seeded from the corpus and the examples) never makes the
validator raise, and every finding it reports points at a real line."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pv.contracts.load import load_bytes
from pv.rules.validate import check_document
from tests.fuzzing import last_line, mutated

HERE = Path(__file__).parents[1]
CORPUS = HERE.parents[1].parent / "shared" / "corpus" / "provable-contracts"
SEEDS = sorted(HERE.glob("examples/*/*.yaml")) + sorted(CORPUS.glob("*.yaml"))[::9]
SEED_BYTES = [p.read_bytes() for p in SEEDS]
SNIPPETS = [
    b"\n", b":", b"- ", b"  ", b"&a ", b"*a", b"<<: *a\n", b"!!python/name:os.system", b"---\n",
    b"{", b"]", b'"', b"'", b"\t", b"\xff", b"? ", b"|\n", b"1.10", b"2026-04-28", b"~",
]  # fmt: skip


def _assert_sane(raw: bytes) -> None:
    result = check_document(load_bytes(raw, "fuzz.yaml"))
    last = last_line(raw)
    for finding in result.findings:
        assert 1 <= finding.line <= last, finding
        assert finding.column >= 1
        assert finding.file == "fuzz.yaml"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated(SEED_BYTES, SNIPPETS, max_edits=4))
def test_mutated_contracts_never_raise_and_findings_have_lines(raw: bytes) -> None:
    _assert_sane(raw)


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_random_bytes_never_raise(raw: bytes) -> None:
    _assert_sane(raw)


@settings(max_examples=100, deadline=None)
@given(
    st.recursive(
        st.none()
        | st.booleans()
        | st.integers()
        | st.floats(allow_nan=False)
        | st.text(max_size=8),
        lambda inner: (
            st.lists(inner, max_size=4)
            | st.dictionaries(
                st.sampled_from(["metadata", "equations", "id", "bound", "formula", "x"]),
                inner,
                max_size=4,
            )
        ),
        max_leaves=20,
    )
)
def test_random_structures_under_contract_keys_never_raise(value: object) -> None:
    import json

    for key in (
        "metadata",
        "equations",
        "proof_obligations",
        "falsification_tests",
        "kani_harnesses",
        "qa_gate",
    ):
        _assert_sane(json.dumps({key: value, "metadata": value}).encode())
