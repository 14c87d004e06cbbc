"""The contract dashboard (`pv report --html`): one static HTML page from a Board, styles and
a few lines of plain JavaScript inline (a state filter), nothing fetched, so it opens from a
CI artifact as well as from disk."""

from __future__ import annotations

from collections.abc import Mapping
from html import escape

from pv import __version__
from pv.binding.bind import STATES
from pv.core.findings import Finding
from pv.views.board import Board, ContractView, IdRow
from pv.views.formula import to_html

STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5rem auto; max-width: 72rem;
       padding: 0 1rem; color: #1f2328; }
table { border-collapse: collapse; width: 100%; margin: 0.5rem 0 1rem; }
th, td { border: 1px solid #d0d7de; padding: 0.3rem 0.5rem; text-align: left;
         vertical-align: top; }
th { background: #f6f8fa; }
.formula { font-family: 'STIX Two Math', 'Cambria Math', 'Times New Roman', serif;
           font-size: 1.15rem; }
.state, .mutant { border-radius: 0.8rem; padding: 0 0.5rem; white-space: nowrap; }
.state-passed, .mutant-killed { background: #dafbe1; color: #116329; }
.state-failed, .mutant-survived, .mutant-error { background: #ffebe9; color: #a40e26; }
.state-skipped { background: #fff8c5; color: #7d4e00; }
.state-not-run, .mutant-not-run { background: #eaeef2; color: #424a53; }
.state-unbound { background: #fbefff; color: #6e40c9; }
code { font-size: 0.8rem; overflow-wrap: anywhere; }
table.ids { table-layout: fixed; }
table.ids col.id { width: 17%; } table.ids col.state { width: 8%; }
table.ids col.prediction { width: 25%; } table.ids col.checks { width: 22%; }
table.ids col.mutants { width: 16%; }
#filter label { margin-right: 1rem; }
dt { font-weight: 600; margin-top: 0.6rem; }
"""
# The only script: hide the id rows whose state is unticked. No framework, nothing fetched.
SCRIPT = """
document.querySelectorAll('#filter input').forEach(function (box) {
  box.addEventListener('change', function () {
    var shown = {};
    document.querySelectorAll('#filter input').forEach(function (b) {
      shown[b.value] = b.checked;
    });
    document.querySelectorAll('tr.id-row').forEach(function (row) {
      row.hidden = !shown[row.dataset.state];
    });
  });
});
"""


def _badge(state: str, kind: str = "state") -> str:
    return f'<span class="{kind} {kind}-{escape(state)}">{escape(state)}</span>'


def _filter(board: Board) -> str:
    boxes = "".join(
        f'<label><input type="checkbox" value="{s}" checked> {_badge(s)} '
        f'<span id="count-{s}">{board.count(s)}</span></label>'
        for s in STATES
    )
    return f'<fieldset id="filter"><legend>show ids that are</legend>{boxes}</fieldset>'


def _equations(view: ContractView) -> str:
    if not view.equations:
        return ""
    items = []
    for name, body in view.equations:
        formula = str(body.get("formula", ""))
        extra = "".join(
            f"<div>{escape(key)}: {escape(str(body[key]))}</div>"
            for key in ("domain", "codomain")
            if body.get(key)
        )
        invariants = body.get("invariants")
        if isinstance(invariants, list) and invariants:
            extra += "<ul>" + "".join(f"<li>{escape(str(i))}</li>" for i in invariants) + "</ul>"
        items.append(
            f'<dt>{escape(name)}</dt><dd><div class="formula" title="{escape(formula)}">'
            f"{to_html(formula)}</div>{extra}</dd>"
        )
    return "<h3>Equations</h3><dl>" + "".join(items) + "</dl>"


def _obligations(view: ContractView) -> str:
    if not view.obligations:
        return ""
    rows = "".join(
        f"<tr><td>{escape(o.type)}</td><td>{escape(o.property)}"
        f'</td><td class="formula">{to_html(o.formal)}</td></tr>'
        for o in view.obligations
    )
    return (
        "<h3>Proof obligations</h3><table><tr><th>type</th><th>property</th><th>formal</th></tr>"
        f"{rows}</table>"
    )


def _finding(f: Finding) -> str:
    return (
        f"<li><code>{escape(f.file)}:{f.line}</code> {escape(f.severity)} "
        f'<b title="{escape(_title(f.rule))}">{escape(f.rule)}</b> {escape(f.message)}</li>'
    )


def _checks(row: IdRow) -> str:
    if not row.checks:
        return "none bound"
    items = []
    for c in row.checks:
        took = f" {c.duration:.2f} s" if c.duration is not None else ""
        outcome = f" ({escape(c.outcome)})" if c.outcome and c.outcome != row.state else ""
        items.append(f"<li><code>{escape(c.nodeid)}</code>{took}{outcome}</li>")
    return "<ul>" + "".join(items) + "</ul>"


def _mutants(row: IdRow) -> str:
    if not row.mutants:
        return ""
    return (
        "<ul>"
        + "".join(f"<li>{escape(m.name)} {_badge(m.status, 'mutant')}</li>" for m in row.mutants)
        + "</ul>"
    )


def _id_row(row: IdRow, anchor: str) -> str:
    findings = "<ul>" + "".join(_finding(f) for f in row.findings) + "</ul>" if row.findings else ""
    return (
        f'<tr class="id-row" id="{escape(anchor)}" data-id="{escape(row.id)}" '
        f'data-state="{escape(row.state)}"><td><b>{escape(row.id)}</b><br>{escape(row.rule)}'
        f"</td><td>{_badge(row.state)}</td><td>{escape(row.prediction)}"
        f"<br><small>if it fails: {escape(row.if_fails)}</small></td><td>{_checks(row)}</td>"
        f"<td>{_mutants(row)}</td><td>{findings}</td></tr>"
    )


def _contract(view: ContractView, anchors: Mapping[int, str]) -> str:
    rows = "".join(_id_row(r, anchors[id(r)]) for r in view.ids)
    table = (
        '<h3>Falsification ids</h3><table class="ids"><colgroup><col class="id">'
        '<col class="state"><col class="prediction"><col class="checks"><col class="mutants">'
        "<col></colgroup><tr><th>id</th><th>state</th><th>prediction</th><th>checks</th>"
        "<th>mutants</th><th>findings</th></tr>" + rows + "</table>"
        if view.ids
        else "<p>No falsification ids.</p>"
    )
    version = f" v{escape(view.version)}" if view.version else ""
    return (
        f'<section class="contract"><h2>{escape(view.name)}{version}</h2>'
        f"<p><code>{escape(view.file)}</code></p><p>{escape(view.description)}</p>"
        f"{table}{_equations(view)}{_obligations(view)}</section>"
    )


def _anchors(board: Board) -> dict[int, str]:
    """A unique element id per row: the falsification id, numbered if two contracts share it."""
    seen: dict[str, int] = {}
    out = {}
    for row in board.rows:
        seen[row.id] = seen.get(row.id, 0) + 1
        out[id(row)] = row.id if seen[row.id] == 1 else f"{row.id}-{seen[row.id]}"
    return out


def _environment(board: Board) -> str:
    env, undeclared = board.environment, board.undeclared
    parts = [f"{escape(k)} {escape(str(v))}" for k, v in env.items() if v]
    text = f"<p><small>{'; '.join(parts)}</small></p>" if parts else ""
    if not board.mutants_run:
        text += (
            "<p>Mutant verdicts are not in this report: the mutants each check names are "
            "listed as not-run (<code>pv falsify --mutants --format json</code> carries them)."
            "</p>"
        )
    if undeclared:
        text += (
            "<p>Checks for ids no contract declares: "
            + ", ".join(escape(i) for i in undeclared)
            + "</p>"
        )
    if board.waived:
        items = "".join(
            f'<li><code title="{escape(_title(w.finding.rule))}">{escape(w.finding.rule)}</code> '
            f"{escape(w.finding.message)}: "
            f"<em>{escape(w.waiver.reason)}</em> <small>({escape(w.waiver.origin)})</small></li>"
            for w in board.waived
        )
        text += f'<section id="waivers"><h2>Waivers in force</h2><ul>{items}</ul></section>'
    return text


def _title(rule: str) -> str:
    """The rule's one-line title and its help, from the rule table, for a tooltip."""
    from pv.core.ruletable import RULES

    known = RULES.get(rule)
    return f"{known.title}. {known.help}" if known is not None else rule


def render(board: Board) -> str:
    """The whole page."""
    anchors = _anchors(board)
    total = len(board.rows)
    passed = board.count("passed")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>pv contract dashboard</title><style>{STYLE}</style></head><body>"
        f'<h1>pv contract dashboard</h1><p id="verdict">{passed} of {total} ids passed; '
        f"states from {escape(board.source)} (pv {escape(__version__)})</p>"
        f"{_environment(board)}{_filter(board)}"
        + "".join(_contract(c, anchors) for c in board.contracts)
        + f"<script>{SCRIPT}</script></body></html>\n"
    )
