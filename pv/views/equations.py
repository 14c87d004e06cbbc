"""`pv equations`: a contract's equations, with domain, codomain and invariants, as plain
text or as a LaTeX fragment to paste into a paper or design note."""

from __future__ import annotations

import json
import re

from pv.contracts.load import Document
from pv.views.corpus import contract_name, model

FORMATS = ("text", "latex", "json")
_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}
# Unicode symbols real contracts use, as LaTeX math (applied after escaping).
_SYMBOLS = {
    "Σ": r"$\sum$",
    "∑": r"$\sum$",
    "√": r"$\sqrt{}$",
    "≤": r"$\leq$",
    "≥": r"$\geq$",
    "≠": r"$\neq$",
    "≈": r"$\approx$",
    "∈": r"$\in$",
    "∀": r"$\forall$",
    "∃": r"$\exists$",
    "→": r"$\to$",
    "·": r"$\cdot$",
    "×": r"$\times$",
    "∞": r"$\infty$",
    "α": r"$\alpha$",
    "β": r"$\beta$",
    "γ": r"$\gamma$",
    "ε": r"$\epsilon$",
    "λ": r"$\lambda$",
    "μ": r"$\mu$",
    "σ": r"$\sigma$",
    "θ": r"$\theta$",
    "τ": r"$\tau$",
    "‖": r"$\|$",
    "⊙": r"$\odot$",
    "∂": r"$\partial$",
    "ℝ": r"$\mathbb{R}$",
}
_SPECIAL_RE = re.compile("|".join(re.escape(k) for k in _LATEX_SPECIAL))


def equations(doc: Document) -> list[tuple[str, dict[str, object]]]:
    """(name, fields) for each equation in file order, as the contract model reads them (a
    mapping or a list; a bare formula string is allowed)."""
    return [
        (
            eq.name,
            {
                "formula": eq.formula,
                **({"domain": eq.domain} if eq.domain else {}),
                **({"codomain": eq.codomain} if eq.codomain else {}),
                **({"invariants": list(eq.invariants)} if eq.invariants else {}),
            },
        )
        for eq in model(doc).equations
    ]


def latex_escape(text: str) -> str:
    """Escape LaTeX specials, then map the Unicode math symbols contracts use."""
    escaped = _SPECIAL_RE.sub(lambda m: _LATEX_SPECIAL[m.group(0)], text)
    return "".join(_SYMBOLS.get(ch, ch) for ch in escaped)


def render(doc: Document, fmt: str) -> str:
    """All equations of `doc` in `fmt` (one of FORMATS)."""
    items = equations(doc)
    if fmt == "json":
        return json.dumps({"contract": contract_name(doc), "equations": dict(items)}, indent=2)
    if fmt == "latex":
        return _latex(contract_name(doc), items)
    lines = [f"Contract: {contract_name(doc)} ({len(items)} equations)"]
    for name, body in items:
        lines.append(f"\n{name}:\n  {body.get('formula', '')}")
        for key in ("domain", "codomain"):
            if body.get(key):
                lines.append(f"  {key}: {body[key]}")
        for inv in _invariants(body):
            lines.append(f"  invariant: {inv}")
    return "\n".join(lines)


def _invariants(body: dict[str, object]) -> list[str]:
    value = body.get("invariants")
    return [str(v) for v in value] if isinstance(value, list) else []


def _latex(contract: str, items: list[tuple[str, dict[str, object]]]) -> str:
    """Formulas are ASCII/Unicode prose-math, not LaTeX: they are typeset verbatim-ish in
    `\\texttt`, escaped, rather than guessed into math mode."""
    lines = [f"\\subsection*{{{latex_escape(contract)}}}", "\\begin{description}"]
    for name, body in items:
        lines.append(
            f"  \\item[{latex_escape(name)}] "
            f"\\texttt{{{latex_escape(str(body.get('formula', '')))}}}"
        )
        for key in ("domain", "codomain"):
            if body.get(key):
                lines.append(f"    \\\\ \\emph{{{key}:}} {latex_escape(str(body[key]))}")
        invariants = _invariants(body)
        if invariants:
            lines.append("    \\begin{itemize}")
            lines += [f"      \\item {latex_escape(inv)}" for inv in invariants]
            lines.append("    \\end{itemize}")
    lines.append("\\end{description}")
    return "\n".join(lines)
