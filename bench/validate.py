"""How fast `pv validate` is, against the floor any Python validator pays: on the 87-file corpus,
and on generated folders of 1,726 contracts (aprender's count) in two mixes (bench/_gencorpus.py).

floor: a fresh process that imports pyyaml + jsonschema + click and parses every file with
CSafeLoader. cold: a fresh `pv validate` with an empty cache. warm: the same with the cache
filled. Each figure is the median of interleaved runs. Targets: 87 files cold <= 1.5x, warm
<= 0.5x; 1,726 files cold <= 1.0x, warm <= 0.15x. Judged on the child's CPU time (user + sys,
from wait4), which a busy shared machine disturbs far less than wall time; wall-clock medians
are printed and saved beside it.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench._gencorpus import generate

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "corpus" / "provable-contracts"
RESULTS = ROOT / "bench" / "results" / "validate.json"
REPEATS = int(os.environ.get("PV_BENCH_REPEATS", "9"))
SCALE = 1726  # aprender's contract count
CASES = {  # name: (files, targets)
    "corpus-87": (None, {"cold": 1.5, "warm": 0.5}),
    "kernels-1726": ("kernels", {"cold": 1.0, "warm": 0.15}),
    "kinds-1726": ("kinds", {"cold": 1.0, "warm": 0.15}),
}

FLOOR = """
import sys, yaml, jsonschema, click
for name in sys.argv[1:]:
    with open(name, "rb") as fh:
        yaml.load(fh.read(), Loader=yaml.CSafeLoader)
"""
PV = "from pv.cli import main; main()"


def _timed(args: list[str], env: dict[str, str], expect: str | None) -> tuple[float, float]:
    """(cpu seconds, wall seconds) of one child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    # pv exits 1 when a file has errors (aprender's fragments do, as the reference says)
    if done.returncode not in (0, 1) or (expect is not None and expect not in done.stdout):
        raise SystemExit(f"bench run failed ({done.returncode}): {args[:4]}\n{done.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, wall


def measure(files: list[str], repeats: int) -> dict[str, list[tuple[float, float]]]:
    """Interleaved runs, so machine noise hits every variant alike."""
    times: dict[str, list[tuple[float, float]]] = {"floor": [], "cold": [], "warm": []}
    with tempfile.TemporaryDirectory(prefix="pv-bench-") as tmp:
        warm_env = {**os.environ, "PV_CACHE_DIR": str(Path(tmp) / "warm")}
        pv = [sys.executable, "-c", PV, "validate", *files]
        _timed(pv, warm_env, "Checked ")  # fill the warm cache once
        for i in range(repeats):
            cold_env = {**os.environ, "PV_CACHE_DIR": str(Path(tmp) / f"cold{i}")}
            times["floor"].append(_timed([sys.executable, "-c", FLOOR, *files], warm_env, None))
            times["cold"].append(_timed(pv, cold_env, "Checked "))
            times["warm"].append(_timed(pv, warm_env, "Checked "))
    return times


def _median(runs: list[tuple[float, float]], which: int) -> float:
    return statistics.median(r[which] for r in runs)


def _report(name: str, files: list[str], targets: dict[str, float], repeats: int) -> dict[str, Any]:
    times = measure(files, repeats)
    floor_cpu, floor_wall = _median(times["floor"], 0), _median(times["floor"], 1)
    print(f"{name}: {len(files)} files, {repeats} interleaved runs each; medians in ms")
    print(f"  {'variant':8} {'cpu':>8} {'wall':>8} {'ratio':>7} {'target':>7}  met")
    print(f"  {'floor':8} {floor_cpu * 1000:8.1f} {floor_wall * 1000:8.1f} {1.0:7.2f}")
    rows = []
    for variant, target in targets.items():
        cpu, wall = _median(times[variant], 0), _median(times[variant], 1)
        ratio = cpu / floor_cpu
        met = ratio <= target
        rows.append({"variant": variant, "cpu_s": cpu, "wall_s": wall, "ratio_cpu": ratio,
                     "ratio_wall": wall / floor_wall, "target": target, "met": met})  # fmt: skip
        figures = f"{cpu * 1000:8.1f} {wall * 1000:8.1f} {ratio:7.2f} {'<=' + str(target):>7}"
        print(f"  {variant:8} {figures}  {'yes' if met else 'NO'}")
    return {"case": name, "files": len(files), "repeats": repeats, "floor_cpu_s": floor_cpu,
            "floor_wall_s": floor_wall, "rows": rows, "raw_cpu_wall": times}  # fmt: skip


def main() -> int:
    if not CORPUS.is_dir():
        print(f"skipped: corpus not found at {CORPUS}")
        return 0
    corpus = sorted(CORPUS.glob("*.yaml"))
    wanted = os.environ.get("PV_BENCH_CASES", ",".join(CASES)).split(",")
    payload = []
    with tempfile.TemporaryDirectory(prefix="pv-bench-corpus-") as tmp:
        for name in wanted:
            mix, targets = CASES[name]
            if mix is None:
                files = [str(p) for p in corpus] + sorted(str(p) for p in CORPUS.glob("*/*.yaml"))
            else:
                files = generate(Path(tmp) / name, corpus, SCALE, mix)
            payload.append(_report(name, files, targets, REPEATS))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"cases": payload}, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {RESULTS.relative_to(ROOT)}")
    return 0 if all(r["met"] for case in payload for r in case["rows"]) else 1


if __name__ == "__main__":
    sys.exit(main())
