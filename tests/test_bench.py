"""`make bench` runs the ratio benches only; the long ones (the kill harness, corpora up to
2 GB, the 3-seed tables, the peers' losses) leave it by saying `LONG = True` and have targets
of their own."""

from __future__ import annotations

import re
from pathlib import Path

from bench.__main__ import discover, is_long

ROOT = Path(__file__).resolve().parents[1]
LONG = {"faults", "scale", "pv_scale", "kd_vs_scratch", "divergences", "onpolicy", "peers"}


def test_the_default_run_is_the_ratio_benches() -> None:
    default = {n for n in discover() if not is_long(n)}
    assert default == set(discover()) - LONG
    assert default == {"validate", "loss_memory", "throughput", "cache_fidelity"}


def test_every_long_bench_has_a_make_target() -> None:
    """Each long bench is named by some target of the Makefile, so none is left unreachable."""
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    named = set(re.findall(r"-m bench ([\w ]+)", makefile))
    named = {w for group in named for w in group.split()}
    named |= set(re.findall(r"from bench\.(\w+) import", makefile))
    assert named >= LONG, sorted(LONG - named)
