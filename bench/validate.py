"""How fast `pv validate` is on the 87-file corpus, against the floor any Python validator pays.

floor: a fresh process that imports pyyaml + jsonschema + click and parses every file with
CSafeLoader. cold: a fresh `pv validate` with an empty cache. warm: the same with the cache
filled. Each figure is the median of interleaved runs. Targets: cold <= 1.5x, warm <= 0.5x,
judged on the child's CPU time (user + sys, from wait4), which a busy shared machine disturbs
far less than wall time; wall-clock medians are printed and saved beside it.
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

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "corpus" / "provable-contracts"
RESULTS = ROOT / "bench" / "results" / "validate.json"
REPEATS = int(os.environ.get("PV_BENCH_REPEATS", "9"))
TARGETS = {"cold": 1.5, "warm": 0.5}

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
    if done.returncode != 0 or (expect is not None and expect not in done.stdout):
        raise SystemExit(f"bench run failed ({done.returncode}): {args[:4]}\n{done.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, wall


def measure(files: list[str], repeats: int) -> dict[str, list[tuple[float, float]]]:
    """Interleaved runs, so machine noise hits every variant alike."""
    times: dict[str, list[tuple[float, float]]] = {"floor": [], "cold": [], "warm": []}
    with tempfile.TemporaryDirectory(prefix="pv-bench-") as tmp:
        warm_env = {**os.environ, "PV_CACHE_DIR": str(Path(tmp) / "warm")}
        pv = [sys.executable, "-c", PV, "validate", *files]
        _timed(pv, warm_env, "0 error(s)")  # fill the warm cache once
        for i in range(repeats):
            cold_env = {**os.environ, "PV_CACHE_DIR": str(Path(tmp) / f"cold{i}")}
            times["floor"].append(_timed([sys.executable, "-c", FLOOR, *files], warm_env, None))
            times["cold"].append(_timed(pv, cold_env, "0 error(s)"))
            times["warm"].append(_timed(pv, warm_env, "0 error(s)"))
    return times


def _median(runs: list[tuple[float, float]], which: int) -> float:
    return statistics.median(r[which] for r in runs)


def main() -> int:
    if not CORPUS.is_dir():
        print(f"skipped: corpus not found at {CORPUS}")
        return 0
    files = sorted(str(p) for p in CORPUS.glob("*.yaml"))
    times = measure(files, REPEATS)
    floor_cpu, floor_wall = _median(times["floor"], 0), _median(times["floor"], 1)
    print(f"{len(files)} files, {REPEATS} interleaved runs each; medians in ms")
    print(f"{'variant':8} {'cpu':>8} {'wall':>8} {'ratio':>7} {'target':>7}  met")
    print(f"{'floor':8} {floor_cpu * 1000:8.1f} {floor_wall * 1000:8.1f} {1.0:7.2f}")
    rows, ok = [], True
    for name, target in TARGETS.items():
        cpu, wall = _median(times[name], 0), _median(times[name], 1)
        ratio = cpu / floor_cpu
        met = ratio <= target
        ok = ok and met
        rows.append({"variant": name, "cpu_s": cpu, "wall_s": wall, "ratio_cpu": ratio,
                     "ratio_wall": wall / floor_wall, "target": target, "met": met})  # fmt: skip
        verdict = "yes" if met else "NO"
        limit = f"<={target}"
        print(f"{name:8} {cpu * 1000:8.1f} {wall * 1000:8.1f} {ratio:7.2f} {limit:>7}  {verdict}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    payload = {"files": len(files), "repeats": REPEATS, "floor_cpu_s": floor_cpu,
               "floor_wall_s": floor_wall, "rows": rows, "raw_cpu_wall": times}  # fmt: skip
    RESULTS.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {RESULTS.relative_to(ROOT)}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
