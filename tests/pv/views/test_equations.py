"""pv equations: text and LaTeX renderings of a contract's equations."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from pv.cli import main
from pv.views.equations import latex_escape

CONTRACT = """\
metadata: {version: "1.0.0"}
equations:
  kl_loss:
    formula: "L = T^2 * KL(p_t || p_s)"
    domain: "T > 0, 50% of cases"
    invariants: ["L ≥ 0"]
"""


def test_text_lists_formula_domain_and_invariants(tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text(CONTRACT, encoding="utf-8")
    out = CliRunner().invoke(main, ["equations", str(tmp_path / "c.yaml")]).output
    assert "kl_loss:\n  L = T^2 * KL(p_t || p_s)" in out
    assert "domain: T > 0, 50% of cases" in out
    assert "invariant: L ≥ 0" in out


def test_latex_escapes_specials_and_maps_symbols(tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text(CONTRACT, encoding="utf-8")
    out = (
        CliRunner()
        .invoke(main, ["equations", "--format", "latex", str(tmp_path / "c.yaml")])
        .output
    )
    assert r"\item[kl\_loss] \texttt{L = T\textasciicircum{}2 * KL(p\_t || p\_s)}" in out
    assert r"50\% of cases" in out
    assert r"L $\geq$ 0" in out
    assert out.count(r"\begin{description}") == out.count(r"\end{description}") == 1


def test_latex_escape_handles_braces_and_backslashes() -> None:
    assert latex_escape(r"a_{i}\b") == r"a\_\{i\}\textbackslash{}b"


def test_a_contract_without_equations_is_nothing_to_show(tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text('metadata: {version: "1.0.0"}\n', encoding="utf-8")
    result = CliRunner().invoke(main, ["equations", str(tmp_path / "c.yaml")])
    assert result.exit_code == 2
    assert "has no equations" in result.output
