"""Fuzz `pv validate` end to end over mutated corpus contracts: never an exception, every
finding on a real line, exit codes only 0, 1 or 2. 500 examples here; `make faults` runs
10,000 (PV_FUZZ_EXAMPLES)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings

from pv.cli import main
from tests.fuzzing import last_line, mutated

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


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,  # a fixed seed: the same contracts every run
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(raw=mutated(SEED_BYTES, SNIPPETS))
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
        assert 1 <= finding["line"] <= last_line(raw), finding
        assert finding["column"] >= 1, finding
