"""What the demo's schedule buys: `distill run` under several (teacher steps, student steps)
schedules, each pinned to 2 CPU cores as on the target machine, side by side; prints wall
time as a ratio to the current default, the three validation losses, and how readable the
distilled student's sample is at several sampling temperatures (the share of its words that
occur in the corpus). Long: run it by hand, `python -m bench.demo_schedule [OUT [T:S ...]]`
(T:S = teacher and student steps per epoch; not part of `make bench`, which runs only modules
with a `main`)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from distill.config import STUDENT_SCHEDULE, TEACHER_SCHEDULE

DEFAULT = (TEACHER_SCHEDULE.steps_per_epoch, STUDENT_SCHEDULE.steps_per_epoch)
SCHEDULES = [DEFAULT, (350, 250), (600, 250), (450, 400), (600, 400), (800, 300)]
TEMPERATURES = (0.8, 0.5, 0.3)
CORES = 2


def _run(index: int, steps: tuple[int, int], root: Path) -> dict[str, object]:
    out = root / f"t{steps[0]}-s{steps[1]}"
    cores = set(range(index * CORES, index * CORES + CORES))
    env = {**os.environ, "OMP_NUM_THREADS": str(CORES), "PYTHONPATH": os.getcwd()}
    cmd = [sys.executable, "-m", "distill", "run", "--out", str(out), "--quiet", "--device"]
    cmd += ["cpu", "--teacher-steps", str(steps[0]), "--student-steps", str(steps[1])]
    start = time.perf_counter()
    done = subprocess.run(
        cmd,
        env=env,
        capture_output=True,
        text=True,
        preexec_fn=lambda: os.sched_setaffinity(0, cores),
        check=False,
    )
    wall = time.perf_counter() - start
    if done.returncode != 0:
        return {"steps": steps, "error": done.stderr.strip()[-300:]}
    losses = {
        name: json.loads((out / name / "metadata.json").read_text())["epochs"][-1]["val_loss"]
        for name in ("teacher", "distill", "scratch")
    }
    return {"steps": steps, "wall": wall, **losses, "samples": _samples(out / "distill")}


def _samples(run: Path) -> dict[float, tuple[float, str]]:
    from distill import stages
    from distill.data import default_text

    words = set(re.findall(r"[A-Za-z]+", default_text().decode("utf-8")))
    out = {}
    for t in TEMPERATURES:
        text = stages.generate(
            model_path=run, prompt="The ", max_new_tokens=200, temperature=t, seed=0, device="cpu"
        )
        found = re.findall(r"[A-Za-z]+", text)
        out[t] = (sum(w in words for w in found) / max(len(found), 1), text)
    return out


def run(root: Path, schedules: list[tuple[int, int]]) -> list[dict[str, object]]:
    usable = max(1, len(os.sched_getaffinity(0)) // CORES)
    with ThreadPoolExecutor(max_workers=usable) as pool:
        jobs = [pool.submit(_run, i % usable, s, root) for i, s in enumerate(schedules)]
        return [j.result() for j in jobs]


def show(results: list[dict[str, object]]) -> None:
    walls = [float(r["wall"]) for r in results if "wall" in r]  # type: ignore[arg-type]
    base = next((float(r["wall"]) for r in results if r["steps"] == DEFAULT), walls[0])  # type: ignore[arg-type]
    temps = " ".join(f"words@{t}" for t in TEMPERATURES)
    print(f"teacher student  wall  ratio  teacher distill scratch margin  {temps}")
    for r in results:
        if "error" in r:
            print(r["steps"], "error:", r["error"])
            continue
        samples: dict[float, tuple[float, str]] = r["samples"]  # type: ignore[assignment]
        teacher, student = r["steps"]  # type: ignore[misc]
        wall = float(r["wall"])  # type: ignore[arg-type]
        print(
            f"{teacher:7d} {student:7d} {wall:5.0f} {wall / base:6.2f} "
            f"{r['teacher']:8.4f} {r['distill']:7.4f} {r['scratch']:7.4f} "
            f"{float(r['scratch']) - float(r['distill']):+.4f}  "  # type: ignore[arg-type]
            + " ".join(f"{samples[t][0]:8.0%}" for t in TEMPERATURES)
        )
    for r in results:
        for t, (_, text) in r.get("samples", {}).items():  # type: ignore[union-attr]
            print(f"--- {r['steps']} T={t}: {text!r}")


if __name__ == "__main__":
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="demo-"))
    given = [tuple(int(n) for n in arg.split(":")) for arg in sys.argv[2:]]
    results = run(folder, [(t, s) for t, s in given] or SCHEDULES)
    show(results)
    (folder / "demo_schedule.json").write_text(json.dumps(results, indent=2, default=str))
