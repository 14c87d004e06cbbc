"""report.html for `distill report`: one static page rendered by templates/report.html.j2 with
autoescape, everything inline (the chart as a data URI, styles in the head), so it opens
offline, from an artifact store or a mail attachment."""

from __future__ import annotations

import base64
import functools
import re
from collections.abc import Sequence
from typing import Any, NamedTuple

import jinja2
from markupsafe import Markup

from distill.runs import WALL_CLOCK, Run


class Column(NamedTuple):
    """An epoch record's field as the table shows it."""

    key: str
    title: str
    fmt: str


EPOCH_COLUMNS = tuple(
    Column(*c)
    for c in (
        ("epoch", "epoch", "{:d}"),
        ("step", "step", "{:d}"),
        ("train_loss", "train loss", "{:.4f}"),
        ("val_loss", "val loss", "{:.4f}"),
        ("kl_loss", "KL", "{:.4f}"),
        ("ce_loss", "CE", "{:.4f}"),
        ("lr", "lr", "{:.2e}"),
        ("tokens_seen", "tokens seen", "{:,d}"),
        ("teacher_nll_of_samples", "teacher NLL of samples", "{:.4f}"),
        ("on_policy_fraction", "sampled", "{:.0%}"),
        ("tokens_per_second", "tokens/s", "{:,.0f}"),
        ("wall_seconds", "wall s", "{:.1f}"),
    )
)
OPTIONAL = {"teacher_nll_of_samples", "on_policy_fraction"}  # on-policy runs' columns
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 60rem;
       color: #222; padding: 0 1rem; }
table { border-collapse: collapse; margin: 0.5rem 0 1rem; }
th, td { border: 1px solid #ccc; padding: 0.2rem 0.6rem; text-align: right; }
th { background: #f3f3f3; }
td.key, th.key { text-align: left; }
pre.sample { white-space: pre-wrap; background: #f8f8f8; border-left: 4px solid #888;
             padding: 0.6rem; }
.passed { color: #1a7f37; } .failed { color: #cf222e; }
img { max-width: 100%; height: auto; }
"""


def _printable(text: str) -> str:
    """A sampled byte string may hold control characters, which HTML forbids: show U+FFFD."""
    return _CONTROL.sub("\ufffd", text)


def _cell(epoch: dict[str, Any], column: Column) -> str:
    value = epoch.get(column.key, "")
    if value is None:  # recorded as not applicable (no sample that epoch)
        return "-"
    try:
        return column.fmt.format(value)
    except (ValueError, TypeError):
        return str(value)


def _columns(epochs: Sequence[dict[str, Any]]) -> list[Column]:
    """Every column, but an on-policy one only where some epoch records it."""
    return [c for c in EPOCH_COLUMNS if c.key not in OPTIONAL or any(c.key in e for e in epochs)]


def anchors(runs: Sequence[Run]) -> list[str]:
    """One unique element id per run: its label, numbered when a label repeats."""
    out: list[str] = []
    for run in runs:
        same = sum(1 for r in runs if r.label == run.label)
        out.append(run.label if same == 1 else f"{run.label}-{len(out) + 1}")
    return out


def margin(runs: Sequence[Run]) -> float | None:
    """How much lower the distilled student's validation loss is than the from-scratch
    baseline's (nats/token), where both are on the page."""
    by_label = {r.label: r for r in runs}
    if "distilled" in by_label and "from-scratch" in by_label:
        return by_label["from-scratch"].val_loss - by_label["distilled"].val_loss
    return None


@functools.cache
def _template() -> jinja2.Template:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("distill", "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    return env.get_template("report.html.j2")


def render(runs: Sequence[Run], png: bytes) -> str:
    """The whole page; `png` is embedded as a data URI (no file next to it is needed)."""
    return _template().render(
        runs=list(zip(runs, anchors(runs), strict=True)),
        margin=margin(runs),
        chart=base64.b64encode(png).decode("ascii"),
        style=Markup(STYLE),
        clock=WALL_CLOCK,
        columns_of=_columns,
        cell=_cell,
        percent=lambda fraction: f"{float(fraction):.1%}",
        printable=_printable,
    )
