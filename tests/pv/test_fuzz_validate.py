"""Fuzz: random and mutated YAML (seeded from the corpus and the examples) never makes the
validator raise, and every finding it reports points at a real line."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pv.load import load_bytes
from pv.validate import check_document

HERE = Path(__file__).parent
CORPUS = HERE.parents[1].parent / "shared" / "corpus" / "provable-contracts"
SEEDS = sorted(HERE.glob("examples/*/*.yaml")) + sorted(CORPUS.glob("*.yaml"))[::9]
SEED_BYTES = [p.read_bytes() for p in SEEDS]
SNIPPETS = [
    b"\n", b":", b"- ", b"  ", b"&a ", b"*a", b"<<: *a\n", b"!!python/name:os.system", b"---\n",
    b"{", b"]", b'"', b"'", b"\t", b"\xff", b"? ", b"|\n", b"1.10", b"2026-04-28", b"~",
]  # fmt: skip


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    raw = draw(st.sampled_from(SEED_BYTES))
    lines = raw.split(b"\n")
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["delete", "duplicate", "swap", "insert", "truncate", "indent"]))
        i = draw(st.integers(0, max(len(lines) - 1, 0)))
        j = draw(st.integers(0, max(len(lines) - 1, 0)))
        if op == "delete" and len(lines) > 1:
            del lines[i]
        elif op == "duplicate":
            lines.insert(j, lines[i])
        elif op == "swap":
            lines[i], lines[j] = lines[j], lines[i]
        elif op == "insert":
            at = draw(st.integers(0, len(lines[i])))
            lines[i] = lines[i][:at] + draw(st.sampled_from(SNIPPETS)) + lines[i][at:]
        elif op == "truncate":
            lines = lines[: i + 1]
        else:
            lines[i] = b"  " + lines[i]
    return b"\n".join(lines)


def _assert_sane(raw: bytes) -> None:
    result = check_document(load_bytes(raw, "fuzz.yaml"))
    # YAML also breaks lines at \r, \x85, \u2028 and \u2029; the end of input may be one past
    last = raw.count(b"\n") + raw.count(b"\r") + raw.decode("utf-8", "replace").count("\x85") + 2
    last += raw.count("\u2028".encode()) + raw.count("\u2029".encode())
    for finding in result.findings:
        assert 1 <= finding.line <= last, finding
        assert finding.column >= 1
        assert finding.file == "fuzz.yaml"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
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
