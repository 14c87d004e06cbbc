"""pv/cli/commands.py's shared pieces: one load-or-fail path for every command that reads a single
YAML file, and one --format / --tests definition reused across commands."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from pv.cli import main
from pv.cli.commands import TESTS, audit, coverage, equations

GOOD = 'metadata: {version: "1.0.0"}\nequations:\n  e: {formula: "x = 1"}\n'
BROKEN = "metadata: [unclosed\n"


@pytest.mark.parametrize(
    ("command", "args"),
    [
        ("audit", ["audit", "{bad}"]),
        ("audit", ["audit", "--binding", "{bad}", "{good}"]),
        ("diff", ["diff", "{bad}", "{good}"]),
        ("diff", ["diff", "{good}", "{bad}"]),
        ("equations", ["equations", "{bad}"]),
    ],
)
def test_a_malformed_yaml_file_is_one_error_line_and_exit_1(
    tmp_path: Path, command: str, args: list[str]
) -> None:
    good, bad = tmp_path / "good.yaml", tmp_path / "bad.yaml"
    good.write_text(GOOD, encoding="utf-8")
    bad.write_text(BROKEN, encoding="utf-8")
    argv = [a.format(good=good, bad=bad) for a in args]
    result = CliRunner().invoke(main, argv)
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = result.output.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"pv {command}: error: {bad}:")
    assert bad.read_text(encoding="utf-8") == BROKEN


def test_equations_offers_exactly_text_latex_and_json(tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text(GOOD, encoding="utf-8")
    (fmt,) = [p for p in equations.params if p.name == "fmt"]
    assert list(getattr(fmt.type, "choices", ())) == ["text", "latex", "json"]
    assert fmt.default == "text"
    latex = CliRunner().invoke(main, ["equations", "--format", "latex", str(tmp_path / "c.yaml")])
    assert latex.exit_code == 0, latex.output
    assert r"\begin{description}" in latex.output
    wrong = CliRunner().invoke(main, ["equations", "--format", "dot", str(tmp_path / "c.yaml")])
    assert wrong.exit_code == 2


def test_audit_and_coverage_share_one_tests_option() -> None:
    probe = TESTS(lambda: None)
    (expected,) = probe.__click_params__  # type: ignore[attr-defined]
    for command in (audit, coverage):
        (option,) = [p for p in command.params if p.name == "tests"]
        assert option.to_info_dict() == expected.to_info_dict()
