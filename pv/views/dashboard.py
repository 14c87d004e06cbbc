"""The contract dashboard (`pv report --html`): one static HTML page from a Board, rendered by
templates/dashboard.html.j2 with autoescape; styles and a few lines of plain JavaScript (a
state filter) inline, nothing fetched, so it opens from a CI artifact as well as from disk."""

from __future__ import annotations

import functools
from typing import NamedTuple

import jinja2
from markupsafe import Markup

from pv import __version__
from pv.binding.bind import STATES
from pv.core.ruletable import RULES
from pv.views.board import Board, ContractView
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


class Equation(NamedTuple):
    """One equation as the page shows it: its formula, domain and codomain, invariants."""

    name: str
    formula: str
    fields: tuple[tuple[str, str], ...]
    invariants: tuple[str, ...]


def _equations(view: ContractView) -> list[Equation]:
    out = []
    for name, body in view.equations:
        invariants = body.get("invariants")
        out.append(
            Equation(
                name=name,
                formula=str(body.get("formula", "")),
                fields=tuple((k, str(body[k])) for k in ("domain", "codomain") if body.get(k)),
                invariants=tuple(map(str, invariants)) if isinstance(invariants, list) else (),
            )
        )
    return out


def _anchors(board: Board) -> dict[int, str]:
    """A unique element id per row: the falsification id, numbered if two contracts share it."""
    seen: dict[str, int] = {}
    out = {}
    for row in board.rows:
        seen[row.id] = seen.get(row.id, 0) + 1
        out[id(row)] = row.id if seen[row.id] == 1 else f"{row.id}-{seen[row.id]}"
    return out


def _title(rule: str) -> str:
    """The rule's one-line title and its help, from the rule table, for a tooltip."""
    known = RULES.get(rule)
    return f"{known.title}. {known.help}" if known is not None else rule


@functools.cache
def _template() -> jinja2.Template:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("pv.views", "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    return env.get_template("dashboard.html.j2")


def render(board: Board) -> str:
    """The whole page."""
    anchors = _anchors(board)
    return _template().render(
        board=board,
        version=__version__,
        states=STATES,
        environment=[(k, v) for k, v in board.environment.items() if v],
        style=Markup(STYLE),
        script=Markup(SCRIPT),
        anchor=lambda row: anchors[id(row)],
        equations=_equations,
        formula=lambda text: Markup(to_html(str(text))),  # built from escaped text
        title=_title,
    )
