"""Shared by the engine's benches: one table layout (figure, ratio, target, met) and one JSON
file per bench in bench/results/."""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"


def check(name: str, value: float, target: float, *, at_most: bool) -> dict[str, Any]:
    """One ratio against its target; `at_most` says which side of the target passes."""
    met = value <= target if at_most else value >= target
    sign = "<=" if at_most else ">="
    print(f"  {name:58} {value:9.3f}  target {sign} {target:<6g} {'met' if met else 'NOT MET'}")
    return {"name": name, "value": value, "target": target, "at_most": at_most, "met": met}


def write(bench: str, payload: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{bench}.json"
    path.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    print(f"  wrote {path.relative_to(ROOT)}")
    return path


def interleaved(fns: dict[str, Callable[[], object]], repeats: int) -> dict[str, dict[str, float]]:
    """Run each function in turn, `repeats` rounds; median CPU and wall seconds per call.

    CPU time (process_time) is the judged figure: the benches run torch on one thread, so
    it is the work done, which other jobs on a shared machine disturb far less than wall.
    """
    cpu: dict[str, list[float]] = {k: [] for k in fns}
    wall: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            c, w = time.process_time(), time.perf_counter()
            fn()
            cpu[name].append(time.process_time() - c)
            wall[name].append(time.perf_counter() - w)
    return {
        k: {"cpu_s": statistics.median(cpu[k]), "wall_s": statistics.median(wall[k])} for k in fns
    }
