"""Fuzz `pv validate` end to end over mutated corpus contracts: never an exception, every
finding on a real line, exit codes only 0, 1 or 2. 500 examples here; `make faults` runs
10,000 (PV_FUZZ_EXAMPLES)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pv.cli import main

HERE = Path(__file__).parent
CORPUS = HERE.parents[1].parent / "shared" / "corpus" / "provable-contracts"
SEEDS = sorted(CORPUS.glob("*.yaml")) or sorted(HERE.glob("examples/*/*.yaml"))
SEED_BYTES = [p.read_bytes() for p in SEEDS]
EXAMPLES = int(os.environ.get("PV_FUZZ_EXAMPLES", "500"))
SNIPPETS = [
    b"\n", b":", b"- ", b"  ", b"&a ", b"*a", b"<<: *a\n", b"---\n", b"{", b"]", b'"', b"'",
    b"\t", b"\xff", b"? ", b"|\n", b"1.10", b"~", b"null", b"[]", b"{}", b"!!binary ", b"\r",
    b"FALSIFY-X-001", b"depends_on: [", b"equations:\n", b"\xef\xbb\xbf", b"%YAML 1.2\n",
]  # fmt: skip


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """A corpus contract after 1-6 line edits and byte edits."""
    lines = draw(st.sampled_from(SEED_BYTES)).split(b"\n")
    for _ in range(draw(st.integers(1, 6))):
        op = draw(
            st.sampled_from(["delete", "duplicate", "swap", "insert", "cut", "indent", "byte"])
        )
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
        elif op == "cut":
            lines = lines[: i + 1]
        elif op == "indent":
            lines[i] = b" " * draw(st.integers(1, 4)) + lines[i]
        elif lines[i]:
            at = draw(st.integers(0, len(lines[i]) - 1))
            lines[i] = lines[i][:at] + bytes([draw(st.integers(0, 255))]) + lines[i][at + 1 :]
    return b"\n".join(lines)


def _last_line(raw: bytes) -> int:
    """The highest line a finding may name: YAML also breaks lines at \\r, \\x85, \\u2028,
    \\u2029, and the end of input may be one past the last."""
    text = raw.decode("utf-8", "replace")
    return 2 + sum(text.count(c) for c in ("\n", "\r", "\x85", "\u2028", "\u2029"))


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,  # a fixed seed: the same contracts every run
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(raw=mutated())
def test_validate_never_raises_and_every_finding_has_a_line(tmp_path: Path, raw: bytes) -> None:
    path = tmp_path / "fuzz-v1.yaml"
    path.write_bytes(raw)
    result = CliRunner().invoke(main, ["validate", "--no-cache", "--format", "json", str(path)])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert result.exit_code in (0, 1, 2)
    report = json.loads(result.stdout)
    findings = report["findings"]
    assert (result.exit_code == 1) == any(f["severity"] == "error" for f in findings)
    for finding in findings:
        assert 1 <= finding["line"] <= _last_line(raw), finding
        assert finding["column"] >= 1, finding
