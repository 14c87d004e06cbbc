"""Contract formulas are ASCII prose-math (`L_KD = T^2 * sum_i KL(p || q)`); this sets them
as HTML a reader can take in at a glance: Greek letters, sub- and superscripts, italic
variables, real operators. No math library and no script: plain markup, escaped."""

from __future__ import annotations

import re
from html import escape

_TOKEN = re.compile(
    r"(?P<word>[A-Za-z][A-Za-z0-9]*)|(?P<num>\d+(?:\.\d+)?(?:e-?\d+)?)"
    r"|(?P<op>->|=>|<=|>=|!=|\|\||[_^()])|(?P<space>\s+)|(?P<other>.)"
)
_WORDS = {
    "alpha": "α",
    "beta": "β",
    "gamma": "γ",
    "delta": "δ",
    "epsilon": "ε",
    "lambda": "λ",
    "mu": "μ",
    "sigma": "σ",
    "theta": "θ",
    "tau": "τ",
    "pi": "π",
    "sum": "Σ",
    "prod": "Π",
    "exists": "∃",
    "forall": "∀",
    "in": "∈",
    "inf": "∞",
    "sqrt": "√",
}
_OPS = {"->": "→", "=>": "⇒", "<=": "≤", ">=": "≥", "!=": "≠", "||": "‖", "*": "·"}
# A subscript only follows a one-letter base (`z_t`, `L_KD`) or a closed group (`||W||_2`):
# `kl_loss` and `epoch_last` are names, not subscripted variables.
_SUB_BASES = {")", "]", "||"}


def _tokens(text: str) -> list[tuple[str, str]]:
    return [(m.lastgroup or "other", m.group()) for m in _TOKEN.finditer(text)]


def _group(tokens: list[tuple[str, str]], i: int) -> tuple[list[tuple[str, str]], int]:
    """The script after `_` or `^` at tokens[i]: one token, or a (...) group without parens."""
    if i >= len(tokens):
        return [], i
    if tokens[i][1] != "(":
        return [tokens[i]], i + 1
    depth, j = 0, i
    while j < len(tokens):
        depth += {"(": 1, ")": -1}.get(tokens[j][1], 0)
        if depth == 0:
            return tokens[i + 1 : j], j + 1
        j += 1
    return tokens[i + 1 :], len(tokens)


def _atom(kind: str, text: str) -> str:
    if kind == "word":
        if text in _WORDS:
            return _WORDS[text]
        return f"<var>{escape(text)}</var>" if len(text) == 1 else escape(text)
    if kind == "op" or text == "*":
        return escape(_OPS.get(text, text))
    return escape(text)


def _render(tokens: list[tuple[str, str]]) -> str:
    out: list[str] = []
    prev = ""
    i = 0
    while i < len(tokens):
        kind, text = tokens[i]
        base = len(prev) == 1 or prev in _SUB_BASES or prev in _WORDS  # `sum_i`, `z_t`
        scriptable = text == "^" or (text == "_" and base)
        if scriptable and prev.strip():
            inner, i = _group(tokens, i + 1)
            tag = "sup" if text == "^" else "sub"
            out.append(f"<{tag}>{_render(inner)}</{tag}>")
            prev = ")"
            continue
        out.append(_atom(kind, text))
        prev = text if kind != "space" else ""
        i += 1
    return "".join(out)


def to_html(formula: str) -> str:
    """`formula` as inline HTML (escaped; only var, sub and sup elements are added)."""
    return _render(_tokens(formula))
