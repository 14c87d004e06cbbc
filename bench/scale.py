"""Scale: peak resident memory of every stage on a prepared store of 200 MB, 1 GB and 2 GB of
text (byte tokenizer), side by side, as ratios to the smallest size (target: flat, and at most
1 GB at 2 GB of text), with prepare's MB/s and the tokens/s of prepare, precompute and train.

Each stage runs as its own `distill` process, so its peak RSS (`wait4`'s ru_maxrss) is its
alone. The text is generated into a temporary folder (deleted after each size): the embedded
pydoc corpus, each copy numbered, so no two blocks of the file are the same.
Sizes: DISTILL_BENCH_SCALE_MB (default "200,1000,2000")."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench._common import check, write

LONG = True  # corpora up to 2 GB: `make bench-scale`, not `make bench`
SIZES_MB = [int(s) for s in os.environ.get("DISTILL_BENCH_SCALE_MB", "200,1000,2000").split(",")]
GB = 1 << 30
FAST = ["--seq-len", "128", "--device", "cpu", "--quiet"]
STEPS = ["--epochs", "1", "--steps-per-epoch", "20", "--batch-size", "16", "--warmup-steps", "2"]
STAGES = ("prepare", "pretrain", "precompute", "train")
WINDOWS = 256  # teacher windows cached per size: precompute's cost must not grow with the corpus


def make_text(path: Path, mb: int) -> int:
    """Write `mb` MB of English prose to `path`; returns the byte count."""
    from distill.data import default_text

    base, target, n = default_text(), mb * 1_000_000, 0
    with path.open("wb") as fh:
        copy = 0
        while n < target:
            block = f"\n\n== copy {copy} ==\n\n".encode() + base
            block = block[: target - n]
            fh.write(block)
            n, copy = n + len(block), copy + 1
    return n


def stage(*args: str) -> dict[str, float]:
    """Run one `distill` command; its wall seconds and peak resident memory (MB)."""
    cmd = [sys.executable, "-m", "distill", *args]
    began = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - began
    out = proc.stdout.read().decode() if proc.stdout else ""
    err = proc.stderr.read().decode() if proc.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(args[:1])} failed:\n{out}\n{err}")
    # ru_maxrss is in KiB on Linux
    return {"wall_s": wall, "peak_mb": usage.ru_maxrss / 1024, "stdout": out}  # type: ignore[dict-item]


def one_size(tmp: Path, mb: int) -> dict[str, Any]:
    """Every stage on `mb` MB of text; each stage's wall time, peak memory and tokens/s."""
    text = tmp / "corpus.txt"
    n_bytes = make_text(text, mb)
    store, rows = tmp / "store", {}
    rows["prepare"] = stage("prepare", "--data", str(text), "--out", str(store))
    text.unlink()
    manifest = json.loads((store / "manifest.json").read_text(encoding="utf-8"))
    rows["prepare"]["tokens_per_s"] = manifest["n_tokens"] / rows["prepare"]["wall_s"]
    rows["prepare"]["mb_per_s"] = n_bytes / 1e6 / rows["prepare"]["wall_s"]
    rows["pretrain"] = stage(
        "pretrain",
        "--data",
        str(store),
        "--out",
        str(tmp / "teacher"),
        "--model-size",
        "small",
        *STEPS,
        "--drift-tolerance",
        "0",
        *FAST,
    )
    rows["precompute"] = stage(
        "precompute",
        "--teacher",
        str(tmp / "teacher"),
        "--data",
        str(store),
        "--out",
        str(tmp / "cache"),
        "--max-windows",
        str(WINDOWS),
        *FAST,
    )
    rows["precompute"]["tokens_per_s"] = WINDOWS * 128 / rows["precompute"]["wall_s"]
    rows["train"] = stage(
        "train",
        "--cache",
        str(tmp / "cache"),
        "--out",
        str(tmp / "student"),
        *STEPS,
        "--drift-tolerance",
        "0",
        "--device",
        "cpu",
        "--quiet",
    )
    for name in ("pretrain", "train"):
        meta = json.loads(
            (tmp / ("teacher" if name == "pretrain" else "student") / "metadata.json").read_text(
                encoding="utf-8"
            )
        )
        rows[name]["tokens_per_s"] = meta["epochs"][-1]["tokens_per_second"]
    for row in rows.values():
        row.pop("stdout", None)
    return {"text_bytes": n_bytes, "tokens": manifest["n_tokens"], "stages": rows}


def table(results: dict[int, dict[str, Any]]) -> None:
    sizes = list(results)
    print("  " + f"{'text':18}" + "".join(f"{f'{mb} MB':>12}" for mb in sizes))
    rows = [(f"{n} peak MB", n, "peak_mb", "12.0f") for n in STAGES]
    rows += [("prepare MB/s", "prepare", "mb_per_s", "12.1f")]
    rows += [(f"{n} tokens/s", n, "tokens_per_s", "12,.0f") for n in STAGES]
    for label, name, key, fmt in rows:
        cells = "".join(format(results[mb]["stages"][name][key], fmt) for mb in sizes)
        print(f"  {label:18}{cells}")


def main() -> int:
    results: dict[int, dict[str, Any]] = {}
    for mb in SIZES_MB:
        with tempfile.TemporaryDirectory(prefix="distill-scale-") as name:
            tmp = Path(name)
            if shutil.disk_usage(tmp).free < 3 * mb * 1_000_000:
                print(f"  skipped {mb} MB: not enough free disk in {tmp}")
                continue
            results[mb] = one_size(tmp, mb)
            print(f"  {mb} MB done", flush=True)
    if len(results) < 2:
        print("  fewer than two sizes measured: no ratio")
        return 1
    table(results)
    small, large = min(results), max(results)
    peak = {mb: max(s["peak_mb"] for s in r["stages"].values()) for mb, r in results.items()}
    checks = [
        check(
            f"peak RSS at {large} MB / at {small} MB of text (worst stage)",
            peak[large] / peak[small],
            1.25,
            at_most=True,
        ),
    ]
    for name in STAGES:
        ratio = (
            results[large]["stages"][name]["peak_mb"] / results[small]["stages"][name]["peak_mb"]
        )
        checks.append(
            check(f"{name}: peak RSS at {large} MB / at {small} MB", ratio, 1.25, at_most=True)
        )
    if large >= 2000:
        checks.append(
            check(
                f"worst peak RSS at {large} MB of text, in GB",
                peak[large] * 2**20 / GB,
                1.0,
                at_most=True,
            )
        )
    write("scale", {"method": __doc__, "sizes_mb": SIZES_MB, "results": results, "checks": checks})
    return 0 if all(c["met"] for c in checks) else 1
