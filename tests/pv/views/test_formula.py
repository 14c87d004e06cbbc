"""Contract formulas set as HTML: Greek letters, scripts, italic one-letter variables, real
operators; names with underscores stay names; everything else is escaped."""

from __future__ import annotations

import pytest

from pv.views.formula import to_html


@pytest.mark.parametrize(
    ("formula", "html"),
    [
        ("L_KD = T^2", "<var>L</var><sub>KD</sub> = <var>T</var><sup>2</sup>"),
        ("sum_i x_i", "Σ<sub><var>i</var></sub> <var>x</var><sub><var>i</var></sub>"),
        ("alpha * a", "α · <var>a</var>"),
        ("||W||_2 <= 1", "‖<var>W</var>‖<sub>2</sub> ≤ 1"),
        ("R^(N x V)", "<var>R</var><sup><var>N</var> <var>x</var> <var>V</var></sup>"),
        ("kl_loss(epoch_last)", "kl_loss(epoch_last)"),
        ("exists w in S -> w != 0", "∃ <var>w</var> ∈ <var>S</var> → <var>w</var> ≠ 0"),
        ("x^(a (b) c", "<var>x</var><sup><var>a</var> (<var>b</var>) <var>c</var></sup>"),
        ("x^", "<var>x</var><sup></sup>"),
        ("a < b & c", "<var>a</var> &lt; <var>b</var> &amp; <var>c</var>"),
        ("<script>", "&lt;script&gt;"),
    ],
    ids=[
        "scripts",
        "sum",
        "greek",
        "norm",
        "group",
        "names",
        "logic",
        "unclosed",
        "dangling",
        "escaped",
        "markup",
    ],
)
def test_formulas_are_set_legibly_and_safely(formula: str, html: str) -> None:
    assert to_html(formula) == html
