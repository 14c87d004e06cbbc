"""pv at scale: `pv validate` over 1,000 / 5,000 / 10,000 small contracts in one folder
(seconds per file must stay flat: linear growth; peak memory bounded), and one 50 MB contract
(refused quickly, within 300 MB). Each run is a fresh `pv` process measured by wait4."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench._common import check, write

LONG = True  # up to 10,000 contracts and a 50 MB one: `make faults`, not `make bench`
SIZES = (1_000, 5_000, 10_000)
PV = str(Path(sys.executable).with_name("pv"))
CONTRACT = """\
metadata:
  version: "1.0.0"
  description: "contract {i}"
  references: ["bench"]
equations:
  eq_{i}:
    formula: "y = {i} * x"
proof_obligations:
  - type: invariant
    property: "y scales with x"
    formal: "y = {i} x"
falsification_tests:
  - id: FALSIFY-S{i}-001
    rule: "scaling"
    prediction: "y / x == {i}"
    test: "bench only"
    if_fails: "scaling broken"
"""


def measure(args: list[str]) -> dict[str, float]:
    """CPU and wall seconds, exit code and peak RSS (MB) of one `pv` process. CPU time is
    the judged figure: other jobs on a shared machine disturb wall time far more."""
    began = time.perf_counter()
    proc = subprocess.Popen([PV, *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return {
        "seconds": usage.ru_utime + usage.ru_stime,
        "wall_seconds": time.perf_counter() - began,
        "code": proc.returncode,
        "peak_mb": usage.ru_maxrss / 1024,  # KiB on Linux
    }


def folder_of(root: Path, n: int) -> Path:
    folder = root / f"c{n}"
    folder.mkdir()
    for i in range(n):
        (folder / f"s{i:05d}-v1.yaml").write_text(CONTRACT.format(i=i), encoding="utf-8")
    return folder


def main() -> int:
    rows: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="pv-scale-") as tmp:
        root = Path(tmp)
        for n in SIZES:
            run = measure(["validate", "--no-cache", str(folder_of(root, n))])
            rows[str(n)] = {**run, "ms_per_file": 1000 * run["seconds"] / n}
            per_file = rows[str(n)]["ms_per_file"]
            print(f"  {n:6d} files: {run['seconds']:7.2f} s CPU  {per_file:.3f} ms/file", end="")
            print(f"  peak {run['peak_mb']:.0f} MB  exit {run['code']}")
        big = root / "big-v1.yaml"
        line = "  - " + "x" * 1000 + "\n"
        big.write_text("metadata:\n  notes:\n" + line * (50_000_000 // len(line)), encoding="utf-8")
        huge = measure(["validate", "--no-cache", str(big)])
        print(
            f"  50 MB contract: {huge['seconds']:.2f} s CPU  peak {huge['peak_mb']:.0f} MB", end=""
        )
        print(f"  exit {huge['code']} (refused: exit 1)")
    first, last = rows[str(SIZES[0])], rows[str(SIZES[-1])]
    checks = [
        check(
            "ms/file at 10k / ms/file at 1k (linear: ~1)",
            last["ms_per_file"] / first["ms_per_file"],
            1.5,
            at_most=True,
        ),
        check(
            "peak MB at 10k / peak MB at 1k (bounded)",
            last["peak_mb"] / first["peak_mb"],
            3.0,
            at_most=True,
        ),
        check("50 MB contract: peak MB", huge["peak_mb"], 300, at_most=True),
        check("50 MB contract: seconds", huge["seconds"], 5, at_most=True),
        check("50 MB contract: exit code", huge["code"], 1, at_most=True),
    ]
    write("pv_scale", {"folders": rows, "big": huge, "checks": checks})
    return int(not all(c["met"] for c in checks) or huge["code"] != 1)


if __name__ == "__main__":
    sys.exit(main())
