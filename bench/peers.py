"""Our divergences side by side with the peers', on the same inputs: TRL's generalized JSD
loss (the GKD trainer's static `generalized_jsd_loss`) and torchtune's chunked forward and
reverse KL losses (`ForwardKLWithChunkedOutputLoss`, `ReverseKLWithChunkedOutputLoss`).

Random logits, N tokens, vocabulary V, every 7th label ignored; pure torch on CPU, one thread.
All take the (N, V) student logits, so ours is the chunked path (not the fused head, which
would not build them at all). Each variant runs in its own process: peak extra memory = peak
RSS minus the RSS once the inputs exist; time = median CPU time of forward + backward.
Where the definitions differ it is said and the difference is taken out before comparing:
TRL's JSD carries no T^2 (ours weighs the divergence by T^2: its `kl` is compared, and its
gradient over T^2); torchtune's "forward KL" is the soft cross-entropy -sum p log q, i.e.
KL(p || q) plus the teacher's entropy H(p), a constant for the student (the values differ by
mean H(p), the gradients agree); torchtune's losses have no temperature (compared at T = 1).
At V=128256 the peers' (N, V) temporaries need ~4 GB each at N=8192, more than this 24 GB
machine holds for TRL, so that row uses N=2048.
"""

from __future__ import annotations

import importlib.util
import os
import resource
import sys
from typing import Any

from bench._common import check, spawn_worker, worker_or_main, write

LONG = True  # the peers' losses need the bench extra: `make bench-peers`, not `make bench`
REPEATS = int(os.environ.get("DISTILL_BENCH_REPEATS", "2"))
CHUNKS = 8  # torchtune's default num_output_chunks
BETA, JSD_T = 0.5, 2.0
PAIRS = (  # (ours, theirs, what agrees)
    ("ours_jsd", "trl_jsd", "JSD_0.5 at T=2 (ours.kl; TRL has no T^2)"),
    ("ours_fkl", "tt_fkl", "forward KL + H(p) at T=1"),
    ("ours_rkl", "tt_rkl", "reverse KL at T=1"),
)
# DISTILL_BENCH_PEER_N=n1,n2 overrides the two N on a machine too busy for the full size
_N = os.environ.get("DISTILL_BENCH_PEER_N", "8192,2048").split(",")
SIZES = ((32000, int(_N[0])), (128256, int(_N[1])))


def _rss() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _peak() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _loss_fn(variant: str, t: Any, y: Any) -> Any:
    """variant -> a function of the student logits (N, V) returning (loss, compared value)."""
    from distill.loss import Divergence, kd_loss

    if variant.startswith("ours_"):
        name = {"ours_jsd": "jsd", "ours_fkl": "forward_kl", "ours_rkl": "reverse_kl"}[variant]
        temp = JSD_T if name == "jsd" else 1.0

        def ours(s: Any) -> Any:
            div = Divergence(name=name, beta=BETA)
            out = kd_loss(s, y, t, alpha=1.0, temperature=temp, divergence=div)
            return out.total, out.kl

        return ours
    if variant == "trl_jsd":
        from trl.experimental.gkd.gkd_trainer import GKDTrainer

        def trl(s: Any) -> Any:
            loss = GKDTrainer.generalized_jsd_loss(
                s[None], t[None], labels=y[None], beta=BETA, temperature=JSD_T
            )
            return loss, float(loss.detach())

        return trl
    from torchtune.modules.loss import (
        ForwardKLWithChunkedOutputLoss,
        ReverseKLWithChunkedOutputLoss,
    )

    cls = ForwardKLWithChunkedOutputLoss if variant == "tt_fkl" else ReverseKLWithChunkedOutputLoss
    module = cls(num_output_chunks=CHUNKS)

    def torchtune(s: Any) -> Any:
        loss = module(
            list(s[None].chunk(CHUNKS, dim=1)), list(t[None].chunk(CHUNKS, dim=1)), y[None]
        )
        return loss, float(loss.detach())

    return torchtune


def worker(variant: str, v: int, n: int, repeats: int) -> dict[str, Any]:
    """Run one variant `repeats` times in this process; report value, memory and time."""
    import time

    import torch

    torch.set_num_threads(1)
    gen = torch.Generator().manual_seed(0)
    y = torch.randint(0, v, (n,), generator=gen)
    y[::7] = -100
    t = torch.randn(n, v, generator=gen).mul_(2.0)
    s = torch.randn(n, v, generator=gen).mul_(2.0).requires_grad_()
    fn = _loss_fn(variant, t, y)
    base, times, value = _rss(), [], 0.0
    for _ in range(repeats):
        s.grad = None
        start = time.process_time()
        loss, value = fn(s)
        loss.backward()
        times.append(time.process_time() - start)
    times.sort()
    assert s.grad is not None
    p = torch.softmax(t, -1)
    entropy = -(p * torch.log_softmax(t, -1)).sum(-1)[y != -100].double().mean()
    return {
        "variant": variant, "V": v, "N": n, "value": float(value),
        "teacher_entropy": float(entropy),
        "grad_norm": float(s.grad.double().norm()), "extra_bytes": _peak() - base,
        "cpu_s": times[len(times) // 2], "cpu_s_all": times,
    }  # fmt: skip


def main() -> int:
    missing = [m for m in ("trl", "torchtune") if importlib.util.find_spec(m) is None]
    if missing:
        print(
            f"peers: {', '.join(missing)} not installed; the bench extra has them: "
            "pip install -c constraints.txt -e '.[bench]' (make bench-peers installs it)",
            file=sys.stderr,
        )
        return 2
    print(f"ours vs peers, forward + backward; peak extra RSS, median CPU of {REPEATS} runs")
    print(f"  {'variant':9} {'V':>7} {'N':>5} {'extra GB':>9} {'CPU s':>7}  {'value':>12}  |grad|")
    rows, checks = [], []
    for v, n in SIZES:
        for mine, theirs, what in PAIRS:
            a, b = (spawn_worker("bench.peers", x, v, n, REPEATS) for x in (mine, theirs))
            for r in (a, b):
                rows.append(r)
                gb = r["extra_bytes"] / 1e9
                print(
                    f"  {r['variant']:9} {v:7} {n:5} {gb:9.3f} {r['cpu_s']:7.2f}  "
                    f"{r['value']:12.8f}  {r['grad_norm']:.6e}"
                )
            tag = f"{mine} vs {theirs} V={v} N={n}"
            ours_value = a["value"] + (a["teacher_entropy"] if mine == "ours_fkl" else 0.0)
            agree = abs(ours_value - b["value"]) / abs(b["value"])
            checks.append(check(f"{tag}: value ({what})", agree, 1e-5, at_most=True))
            grad = a["grad_norm"] / (JSD_T**2 if mine == "ours_jsd" else 1.0)
            agree = abs(grad - b["grad_norm"]) / b["grad_norm"]
            checks.append(check(f"{tag}: gradient norm", agree, 1e-5, at_most=True))
            mem = a["extra_bytes"] / b["extra_bytes"]
            checks.append(check(f"{tag}: extra memory ratio", mem, 1.0, at_most=True))
            checks.append(
                check(f"{tag}: CPU time ratio", a["cpu_s"] / b["cpu_s"], 1.0, at_most=True)
            )
    write("peers", {"method": __doc__, "repeats": REPEATS, "rows": rows, "checks": checks})
    return 0 if all(c["met"] for c in checks) else 1


if __name__ == "__main__":
    worker_or_main(worker, main)
