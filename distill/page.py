"""report.html for `distill report`: one static page, everything inline (the chart as a data
URI, styles in the head), so it opens offline, from an artifact store or a mail attachment."""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from html import escape
from typing import Any

from distill.runs import WALL_CLOCK, Run

EPOCH_COLUMNS = (
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


def _cell(value: Any, fmt: str) -> str:
    if value is None:  # recorded as not applicable (no sample that epoch)
        return "-"
    try:
        return escape(fmt.format(value))
    except (ValueError, TypeError):
        return escape(str(value))


def anchors(runs: Sequence[Run]) -> list[str]:
    """One unique element id per run: its label, numbered when a label repeats."""
    out: list[str] = []
    for run in runs:
        same = sum(1 for r in runs if r.label == run.label)
        out.append(run.label if same == 1 else f"{run.label}-{len(out) + 1}")
    return out


def _summary(runs: Sequence[Run], names: Sequence[str]) -> str:
    rows = [
        f'<tr id="summary-{escape(name)}"><td class="key">{escape(r.label)}</td>'
        f'<td class="key">{escape(str(r.path))}</td><td>{r.val_loss:.4f}</td></tr>'
        for r, name in zip(runs, names, strict=True)
    ]
    by_label = {r.label: r for r in runs}
    margin = ""
    if "distilled" in by_label and "from-scratch" in by_label:
        gain = by_label["from-scratch"].val_loss - by_label["distilled"].val_loss
        verdict = "better" if gain > 0 else "worse"
        margin = (
            f'<p id="margin">Distillation margin: the distilled student is {abs(gain):.4f} '
            f"nats/token {verdict} than the same student trained from scratch with the same "
            "steps and seed.</p>"
        )
    return (
        '<table id="summary"><tr><th class="key">run</th><th class="key">directory</th>'
        "<th>validation loss</th></tr>" + "".join(rows) + "</table>" + margin
    )


def _config_table(config: dict[str, Any]) -> str:
    rows = "".join(
        f'<tr><td class="key">{escape(k)}</td><td class="key">{escape(str(v))}</td></tr>'
        for k, v in sorted(config.items())
    )
    return f"<details><summary>config</summary><table>{rows}</table></details>"


def _clock(key: str) -> str:
    """Cells of the clock's figures are marked: all else on the page is fixed by the runs."""
    return ' class="clock"' if key in WALL_CLOCK else ""


def _epochs_table(epochs: Sequence[dict[str, Any]]) -> str:
    columns = [c for c in EPOCH_COLUMNS if c[0] not in OPTIONAL or any(c[0] in e for e in epochs)]
    head = "".join(f"<th>{escape(title)}</th>" for _, title, _ in columns)
    body = "".join(
        "<tr>"
        + "".join(f"<td{_clock(k)}>{_cell(e.get(k, ''), f)}</td>" for k, _, f in columns)
        + "</tr>"
        for e in epochs
    )
    return f'<table class="epochs"><tr>{head}</tr>{body}</table>'


def _gate(run: Run) -> str:
    gate = run.metadata.get("drift_gate")
    if not gate:
        return "<p>drift gate: not recorded</p>"
    state = "passed" if gate.get("passed") else "failed"
    return (
        f'<p class="gate">drift gate: <span class="{state}">{state}</span>, the weights moved '
        f"{float(gate['relative_change']):.1%} (must exceed {float(gate['tolerance']) * 100:.3g}%; "
        f"{escape(str(gate.get('measure', '')))})</p>"
    )


def _cache(run: Run) -> str:
    if run.cache is None:
        return ""
    c = run.cache
    return (
        f'<p class="cache">teacher-logit cache {escape(str(c.path))}: '
        f"{c.total_bytes / 1e6:.1f} MB in all, top-k {c.top_k}, "
        f"{c.bytes_per_token:.0f} bytes/token of teacher signal over {c.tokens:,} tokens</p>"
    )


def _run_section(run: Run, name: str) -> str:
    ident = escape(name)
    sample = ""
    if run.sample is not None:
        text = escape(_printable(run.sample))
        sample = f'<h3>sample</h3><pre class="sample" id="sample-{ident}">{text}</pre>'

    return (
        f'<section id="run-{ident}"><h2>{escape(run.label)}: {escape(str(run.path))}</h2>'
        f"{_epochs_table(run.epochs)}{_gate(run)}{_cache(run)}{sample}"
        f"{_config_table(run.metadata.get('config', {}))}</section>"
    )


def render(runs: Sequence[Run], png: bytes) -> str:
    """The whole page; `png` is embedded as a data URI (no file next to it is needed)."""
    data = base64.b64encode(png).decode("ascii")
    names = anchors(runs)
    sections = "".join(_run_section(r, n) for r, n in zip(runs, names, strict=True))
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        "<title>distill run report</title>"
        f"<style>{STYLE}</style></head><body><h1>distill run report</h1>"
        f"{_summary(runs, names)}"
        f'<img id="loss-chart" src="data:image/png;base64,{data}" width="800" height="450" '
        'alt="train and validation loss per epoch of every run">'
        f"{sections}</body></html>\n"
    )
