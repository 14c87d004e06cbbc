"""KD loss memory and time: the plain `log_softmax` + `kl_div` + `cross_entropy` formula vs
our chunked loss (gradient computed during the forward) and the loss fused with the output
projection (logits never built). Random data, N tokens, vocabulary V, T=2, alpha=0.5.

Method: each variant runs in its own process (torch on one thread). Peak extra memory =
peak RSS (getrusage ru_maxrss) minus the RSS once the inputs exist; time = median CPU time
of forward + backward over REPEATS runs (process time, one thread, so page-zeroing
system time counts too). Targets: extra <= 1/4 of plain, time <= 1.1x plain.
At V=128256, N=8192 the plain formula needs ~40 GB (one fp32 (N, V) tensor is 4.2 GB) and
this machine has 24 GB: the plain side runs at N=2048 and the ratios compare equal N; the
bounded variants also run at N=8192 to show their absolute footprint there.
"""

from __future__ import annotations

import os
import resource
from typing import Any

from bench._common import check, spawn_worker, worker_or_main, write

REPEATS = int(os.environ.get("DISTILL_BENCH_REPEATS", "2"))
HIDDEN = 64  # C of the head variants: the comparison is about (N, V), not the matmul
CASES = [  # (V, N, variants, repeats): the last row is the footprint only, so run once
    (32000, 8192, ("plain", "chunked", "plain_head", "fused"), REPEATS),
    (128256, 2048, ("plain", "chunked", "plain_head", "fused"), REPEATS),
    (128256, 8192, ("chunked", "fused"), 1),
]


def _rss() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _peak() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def worker(variant: str, v: int, n: int, repeats: int) -> dict[str, Any]:
    """Run one variant REPEATS times in this process; report memory and time."""
    import time

    import torch
    from torch.nn import functional as F

    from distill.loss import kd_loss

    torch.set_num_threads(1)
    gen = torch.Generator().manual_seed(0)
    y = torch.randint(0, v, (n,), generator=gen)
    t = torch.randn(n, v, generator=gen).mul_(2.0)
    head = variant in {"plain_head", "fused"}
    x = torch.randn(n, HIDDEN if head else v, generator=gen).requires_grad_()
    w = torch.randn(v, HIDDEN, generator=gen).mul_(0.1).requires_grad_() if head else None
    alpha, temp = 0.5, 2.0

    def plain(s: torch.Tensor) -> torch.Tensor:
        log_q = F.log_softmax(s / temp, dim=-1)
        log_p = F.log_softmax(t / temp, dim=-1)
        kl = F.kl_div(log_q, log_p, log_target=True, reduction="sum")
        ce = F.cross_entropy(s, y, reduction="sum")
        return (alpha * temp * temp * kl + (1 - alpha) * ce) / n

    def run() -> float:
        if variant == "plain":
            loss = plain(x)
        elif variant == "plain_head":
            loss = plain(x @ w.T)  # type: ignore[union-attr]
        else:
            kw = {"head": w} if variant == "fused" else {}
            loss = kd_loss(x, y, t, alpha=alpha, temperature=temp, **kw).total
        loss.backward()
        return float(loss.detach())

    base, peak0 = _rss(), _peak()
    times, value = [], 0.0
    for _ in range(repeats):
        x.grad = None
        if w is not None:
            w.grad = None
        start = time.process_time()
        value = run()
        times.append(time.process_time() - start)
    times.sort()
    return {
        "variant": variant, "V": v, "N": n, "loss": value,
        "extra_bytes": _peak() - base, "inputs_bytes": base, "peak_before_run": peak0 - base,
        "cpu_s": times[len(times) // 2], "cpu_s_all": times,
    }  # fmt: skip


def main() -> int:
    print(f"KD loss, forward + backward; peak extra RSS, median CPU time of {REPEATS} runs")
    print(f"  {'variant':11} {'V':>7} {'N':>5} {'extra GB':>9} {'CPU s':>7}  loss")
    rows = []
    for v, n, variants, repeats in CASES:
        for variant in variants:
            r = spawn_worker("bench.loss_memory", variant, v, n, repeats)
            rows.append(r)
            gb = r["extra_bytes"] / 1e9
            print(f"  {variant:11} {v:7} {n:5} {gb:9.3f} {r['cpu_s']:7.2f}  {r['loss']:.6f}")
    got = {(r["variant"], r["V"], r["N"]): r for r in rows}
    checks = []
    for v, n, variants, _ in CASES:
        pairs = [("chunked", "plain"), ("fused", "plain_head")]
        for mine, ref in pairs:
            if mine in variants and ref in variants:
                a, b = got[(mine, v, n)], got[(ref, v, n)]
                tag = f"{mine} vs {ref} V={v} N={n}"
                mem = a["extra_bytes"] / b["extra_bytes"]
                checks.append(check(f"{tag}: extra memory", mem, 0.25, at_most=True))
                checks.append(check(f"{tag}: time", a["cpu_s"] / b["cpu_s"], 1.1, at_most=True))
                agree = abs(a["loss"] - b["loss"]) / abs(b["loss"])
                checks.append(check(f"{tag}: |loss - plain| / plain", agree, 1e-5, at_most=True))
    write("loss_memory", {"method": __doc__, "repeats": REPEATS, "rows": rows, "checks": checks})
    return 0 if all(c["met"] for c in checks) else 1


if __name__ == "__main__":
    worker_or_main(worker, main)
