"""Tests for pv.rules.validate: discovery, classification, cross-file rules and the real corpus."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pv.contracts import files, load
from pv.rules import validate
from pv.rules.validate import FileResult, discover, validate_paths

ROOT = Path(__file__).resolve().parents[3]
CORPUS = ROOT.parent / "shared" / "corpus" / "provable-contracts"
EXAMPLES = Path(__file__).parents[1] / "examples"
needs_corpus = pytest.mark.skipif(
    not CORPUS.is_dir(), reason=f"corpus not present at {CORPUS} (only in the shared workspace)"
)


@needs_corpus
def test_every_top_level_corpus_contract_has_zero_errors_and_the_known_totals() -> None:
    files, missing = discover(sorted(CORPUS.glob("*.yaml")))
    report = validate_paths(files)
    assert missing == []
    assert len(files) == 87
    assert report.errors == 0, [f for f in report.findings if f.severity == "error"][:5]
    assert report.totals() == {
        "contracts": 87,
        "equations": 315,
        "proof_obligations": 472,
        "falsification_tests": 496,
        "kani_harnesses": 160,
    }
    dupes = {f.message.split()[2] for f in report.findings if f.rule == "PV-008"}
    assert len(dupes) == 10


@needs_corpus
def test_the_aprender_folder_gets_the_newer_references_verdicts() -> None:
    """The newer Rust pv refuses every file of corpus/aprender/, and so does pv, for its
    reasons: the four fragments declare no metadata.kind and carry no equations, so they are
    judged kernels (SCHEMA-003, PROVABILITY-001; two also cite nothing, SCHEMA-001); the
    binding registry binds the same equation in the same module more than once (BINDING-006),
    a copy the newer tool refuses and this older snapshot of the file still has."""
    files, _ = discover([CORPUS / "aprender"])
    report = validate_paths(files)
    kinds = {Path(r.file).name: r.kind for r in report.files}
    assert kinds.pop("binding.yaml") == "binding"
    assert set(kinds.values()) == {"contract"}
    errors: dict[str, set[str]] = {}
    for f in report.findings:
        if f.severity == "error":
            errors.setdefault(Path(f.file).name, set()).add(f.rule)
    assert errors == {
        "binding.yaml": {"BINDING-006"},
        "kernel-fusion-v1.yaml": {"SCHEMA-001", "SCHEMA-003", "PROVABILITY-001"},
        "layer-parity-v1.yaml": {"SCHEMA-003", "PROVABILITY-001"},
        "quantized-dot-product-v1.yaml": {"SCHEMA-003", "PROVABILITY-001"},
        "tensor-layout-v1.yaml": {"SCHEMA-001", "SCHEMA-003", "PROVABILITY-001"},
    }
    message = next(f.message for f in report.findings if f.rule == "SCHEMA-003")
    assert "no metadata.kind, judged kernel by default" in message


def test_discover_recurses_sorts_dedupes_and_reports_missing(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    for name in ("b.yaml", "a.yml", "sub/c.yaml", "notes.txt"):
        (tmp_path / name).write_text("a: 1\n")
    files, missing = discover([tmp_path, tmp_path / "b.yaml", tmp_path / "nope"])
    assert [Path(p).relative_to(tmp_path).as_posix() for p in files] == [
        "a.yml",
        "b.yaml",
        "sub/c.yaml",
    ]
    assert missing == [str(tmp_path / "nope")]
    spelt = [f"{tmp_path}/./b.yaml", f"{tmp_path}//b.yaml", f"{tmp_path}/sub/../b.yaml"]
    assert discover(spelt) == ([str(tmp_path / "b.yaml")], [])  # one file, however spelt


def test_one_run_reports_every_file_even_when_some_are_broken(tmp_path: Path) -> None:
    shutil.copy(EXAMPLES / "bad" / "LOAD-006-invalid-yaml.yaml", tmp_path / "a.yaml")
    shutil.copy(EXAMPLES / "bad" / "SCHEMA-004-empty-formula.yaml", tmp_path / "b.yaml")
    shutil.copy(EXAMPLES / "good" / "minimal.yaml", tmp_path / "c.yaml")
    report = validate_paths(discover([tmp_path])[0])
    assert [r.kind for r in report.files] == ["refused", "contract", "contract"]
    assert {f.rule for f in report.findings} >= {"LOAD-006", "SCHEMA-004"}
    assert report.errors == 2


def _contract(deps: list[str], fid: str) -> str:
    base = (EXAMPLES / "good" / "minimal.yaml").read_text()
    base = base.replace("FALSIFY-MIN-001", fid)
    return base.replace(
        '  references: ["Paper (2024)"]', f'  references: ["P"]\n  depends_on: {deps}'
    )


def test_dependency_cycle_and_duplicate_ids_across_files(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(_contract(["b"], "FALSIFY-MIN-001"))
    (tmp_path / "b.yaml").write_text(_contract(["a"], "FALSIFY-MIN-001"))
    report = validate_paths(discover([tmp_path])[0])
    rules = sorted(f.rule for f in report.findings)
    assert rules == ["PV-007", "PV-008"]
    assert report.errors == 1


def test_depends_on_may_name_a_sibling_not_given_on_the_command_line(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(_contract(["b"], "FALSIFY-MIN-001"))
    (tmp_path / "b.yaml").write_text(_contract([], "FALSIFY-MIN-002"))
    report = validate_paths([tmp_path / "a.yaml"])
    assert report.findings == ()


def test_declared_non_kernel_kind_skips_the_kernel_rules(tmp_path: Path) -> None:
    text = (
        'metadata:\n  version: "1.0.0"\n  description: d\n  references: ["r"]\n'
        "  kind: registry\nentries: [1]\nfalsification_tests: []\n"
    )
    (tmp_path / "r.yaml").write_text(text)
    report = validate_paths([tmp_path / "r.yaml"])
    assert (report.files[0].kind, report.files[0].contract_kind) == ("contract", "registry")
    assert report.findings == ()
    (tmp_path / "r.yaml").write_text(text.replace("registry", "kernel"))
    rules = {f.rule for f in validate_paths([tmp_path / "r.yaml"]).findings}
    assert {"SCHEMA-003", "PROVABILITY-001", "SCHEMA-013"} <= rules


def test_binding_registry_is_checked_against_its_own_schema(tmp_path: Path) -> None:
    (tmp_path / "binding.yaml").write_text(
        'version: "1.0.0"\ntarget_crate: c\nbindings:\n  - contract: a.yaml\n    equation: e\n'
        "    status: done\n"
    )
    report = validate_paths([tmp_path / "binding.yaml"])
    assert report.files[0].kind == "binding"
    assert [(f.rule, f.line) for f in report.findings] == [("PV-001", 6)]


def test_file_result_round_trips_and_refuses_foreign_findings() -> None:
    result = validate.validate_file(
        EXAMPLES / "bad" / "PV-005-unresolved-kani-obligation.yaml", "x.yaml"
    )
    again = FileResult.from_dict("x.yaml", result.to_dict())
    assert again == result
    with pytest.raises(ValueError, match="another file"):
        FileResult.from_dict("y.yaml", result.to_dict())


@pytest.mark.parametrize(
    "size",
    [0, 1, files.FIRST_READ - 1, files.FIRST_READ, files.FIRST_READ + 1, 3 * files.FIRST_READ + 5,
     files.MAX_BYTES, files.MAX_BYTES + 1, files.MAX_BYTES + files.FIRST_READ + 7],
)  # fmt: skip
def test_a_read_returns_the_file_or_one_byte_past_the_limit(tmp_path: Path, size: int) -> None:
    data = bytes(range(256)) * (size // 256 + 1)
    (tmp_path / "f").write_bytes(data[:size])
    assert files.read(tmp_path / "f") == data[: min(size, files.MAX_BYTES + 1)]
    assert load.MAX_BYTES is files.MAX_BYTES  # the loader refuses what the reader cut


def test_display_names_are_relative_below_the_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "x.yaml").write_text("a: 1\n")
    assert validate.display_name(tmp_path / "x.yaml") == "x.yaml"
    assert validate.display_name(Path("/elsewhere/y.yaml")) == "/elsewhere/y.yaml"


def test_a_folder_mixing_both_dialects_reports_each_file_by_its_own_kind(tmp_path: Path) -> None:
    cases = Path(__file__).parents[1] / "aprender_cases"
    shutil.copy(EXAMPLES / "good" / "minimal.yaml", tmp_path / "old-kernel.yaml")
    for name in (
        "pilot_beat_contract_validates",
        "healthy_kaizen_record_validates_and_is_exempt_from_provability",
        "parse_contract_with_kind_model_family",
        "kaizen_pass_does_not_run_on_other_kinds",
    ):
        shutil.copy(cases / f"{name}.yaml", tmp_path / f"{name}.yaml")
    report = validate_paths(discover([tmp_path])[0])
    kinds = {Path(r.file).stem: r.contract_kind for r in report.files}
    assert kinds == {
        "healthy_kaizen_record_validates_and_is_exempt_from_provability": "kaizen",
        "kaizen_pass_does_not_run_on_other_kinds": "registry",
        "old-kernel": "kernel",
        "parse_contract_with_kind_model_family": "model-family",
        "pilot_beat_contract_validates": "beat-benchmark",
    }
    assert report.errors == 0
    assert report.kinds() == {"beat-benchmark": 1, "kaizen": 1, "kernel": 1, "model-family": 1,
                              "registry": 1}  # fmt: skip


@pytest.mark.parametrize("key", ["falsification_tests", "kani_harnesses", "proof_obligations"])
def test_a_top_level_key_with_no_value_is_an_empty_list_and_only_a_warning(
    tmp_path: Path, key: str
) -> None:
    text = (EXAMPLES / "good" / "minimal.yaml").read_text()
    text = re.sub(rf"(?m)^{key}:\n(?:[ -].*\n)*", f"{key}:\n", text)
    text = text.replace("metadata:\n", "metadata:\n  kind: pattern\n")
    (tmp_path / "c.yaml").write_text(text)
    result = validate.validate_file(tmp_path / "c.yaml")
    empty = [(f.severity, f.path) for f in result.findings if f.rule == "PV-012"]
    assert empty == [("warning", f"$.{key}")]
    assert all(f.severity == "warning" for f in result.findings)
    assert result.counts[key] == 0


_PART = st.sampled_from(["a", "b.yaml", ".", "..", "", ".h", "..x", "...", "c d"])


@settings(max_examples=300, deadline=None)
@given(parts=st.lists(_PART, max_size=6), absolute=st.booleans(), cwd=st.sampled_from(["/a", "/"]))
def test_the_display_name_shortcut_agrees_with_abspath(
    parts: list[str], absolute: bool, cwd: str
) -> None:
    """The regex that lets display_name skip abspath only lets through paths normpath keeps,
    and every name equals the plain definition (abspath, then relative to cwd if below it)."""
    path = ("/" if absolute else "") + "/".join(parts)
    if files._NORMAL.match(path):
        assert os.path.normpath(path) == path
    absolute_path = os.path.abspath(path) if path else os.getcwd()
    base = cwd.rstrip("/") + "/"
    plain = absolute_path[len(base) :] if absolute_path.startswith(base) else Path(path).as_posix()
    assert validate.display_name(path, cwd) == plain
    here = os.getcwd().rstrip("/") + "/"
    ours = absolute_path[len(here) :] if absolute_path.startswith(here) else Path(path).as_posix()
    assert validate.display_name(path) == files.display_names([path])[0] == ours
