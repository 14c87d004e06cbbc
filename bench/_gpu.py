"""The body of bench/gpu.sh (one NVIDIA GPU, bf16 autocast). Not found by `python -m bench`
(leading underscore): CPU-only machines have nothing to run here.

`python -m bench._gpu --smoke` runs the same code on the CPU at toy sizes, to check it runs.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import torch
from torch.nn import functional as F

from bench._common import write
from distill.config import TrainConfig
from distill.loss import TopK, kd_loss
from distill.model import GPT, GPTConfig
from distill.train import student_loss

PEAKS = {"H100": 989e12, "H200": 989e12, "A100": 312e12, "L4": 121e12, "A10": 125e12}


def peak_flops(device: torch.device) -> float | None:
    if "PEAK_TFLOPS" in os.environ:
        return float(os.environ["PEAK_TFLOPS"]) * 1e12
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    return next((v for k, v in PEAKS.items() if k in name), None)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn: Callable[[], object], device: torch.device, warm: int, reps: int) -> float:
    """Median seconds of `fn` after `warm` untimed calls."""
    for _ in range(warm):
        fn()
    times = []
    for _ in range(reps):
        sync(device)
        start = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def peak_gb(device: torch.device) -> float:
    return torch.cuda.max_memory_allocated(device) / 1e9 if device.type == "cuda" else 0.0


def reset_peak(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)


def train_steps(cfg: GPTConfig, b: int, t: int, device: torch.device) -> dict[str, Any]:
    """CE-only and top-32 KD steps of one student: tokens/s, MFU, peak memory."""
    torch.manual_seed(0)
    net = GPT(cfg).to(device)
    fused = device.type == "cuda"
    opt = torch.optim.AdamW(net.parameters(), lr=1e-4, fused=fused)
    tc = TrainConfig()
    x = torch.randint(0, cfg.vocab_size, (b, t + 1), device=device)
    ids = torch.randint(0, cfg.vocab_size, (b, t, 32), dtype=torch.int32)  # as the cache holds
    vals = torch.randn(b, t, 32).sort(-1, descending=True).values.half()
    if device.type == "cuda":
        ids, vals = ids.pin_memory(), vals.pin_memory()
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=fused)

    def ce() -> None:
        with autocast:
            logits = net(x[:, :-1])
            loss = F.cross_entropy(logits.view(-1, cfg.vocab_size), x[:, 1:].reshape(-1))
        loss.backward()  # type: ignore[no-untyped-call]
        opt.step()
        opt.zero_grad(set_to_none=True)

    def kd() -> None:
        teacher = TopK(ids=ids.to(device, non_blocking=True).long(),
                       values=vals.to(device, non_blocking=True))  # fmt: skip
        out = student_loss(net, x[:, :-1], x[:, 1:], teacher, tc, alpha=0.9, temperature=1.0,
                           normalizer=b * t)  # fmt: skip
        out.total.backward()  # type: ignore[no-untyped-call]
        opt.step()
        opt.zero_grad(set_to_none=True)

    n_params = sum(p.numel() for p in net.parameters()) - net.wpe.weight.numel()
    flops_tok = 6 * n_params + 12 * cfg.n_layer * cfg.n_embd * t  # PaLM appendix B
    peak = peak_flops(device)
    row: dict[str, Any] = {"V": cfg.vocab_size, "params_M": n_params / 1e6, "tokens": b * t}
    for name, fn in (("ce", ce), ("kd", kd)):
        reset_peak(device)
        sec = timed(fn, device, warm=3, reps=10)
        row[f"{name}_tok_s"] = b * t / sec
        row[f"{name}_mfu"] = flops_tok * b * t / sec / peak if peak else None
        row[f"{name}_peak_gb"] = peak_gb(device)
    row["kd_vs_ce"] = row["kd_tok_s"] / row["ce_tok_s"]
    return row


def loss_alone(n: int, v: int, c: int, device: torch.device) -> list[dict[str, Any]]:
    """The KD loss at N tokens, vocabulary V: plain vs chunked (logits in) vs fused (hidden)."""
    gen = torch.Generator(device=device).manual_seed(0)
    t = torch.randn(n, v, device=device, generator=gen)
    y = torch.randint(0, v, (n,), device=device, generator=gen)
    s = torch.randn(n, v, device=device, generator=gen).requires_grad_()
    h = torch.randn(n, c, device=device, generator=gen).requires_grad_()
    w = (torch.randn(v, c, device=device, generator=gen) * 0.05).requires_grad_()

    def plain(logits: torch.Tensor) -> torch.Tensor:
        kl = F.kl_div(F.log_softmax(logits, -1), F.log_softmax(t, -1), log_target=True,
                      reduction="sum")  # fmt: skip
        return (0.9 * kl + 0.1 * F.cross_entropy(logits, y, reduction="sum")) / n

    variants: dict[str, Callable[[], torch.Tensor]] = {
        "plain": lambda: plain(s),
        "chunked": lambda: kd_loss(s, y, t, alpha=0.9, temperature=1.0).total,
        "plain_head": lambda: plain(h @ w.T),
        "fused": lambda: kd_loss(h, y, t, alpha=0.9, temperature=1.0, head=w).total,
    }
    rows = []
    for name, fn in variants.items():

        def run(fn: Callable[[], torch.Tensor] = fn) -> None:
            s.grad = h.grad = w.grad = None
            fn().backward()  # type: ignore[no-untyped-call]

        run()
        s.grad = h.grad = w.grad = None
        reset_peak(device)
        base = torch.cuda.memory_allocated(device) if device.type == "cuda" else 0
        sec = timed(run, device, warm=1, reps=5)
        extra = peak_gb(device) - base / 1e9
        rows.append({"variant": name, "N": n, "V": v, "extra_gb": extra, "seconds": sec})
    return rows


def main(smoke: bool) -> int:
    device = torch.device("cpu" if smoke else "cuda")
    size = {"n_layer": 2, "n_head": 2, "n_embd": 64} if smoke else {
        "n_layer": 12, "n_head": 12, "n_embd": 768}  # fmt: skip
    b, t = (2, 64) if smoke else (16, 1024)
    name = "cpu (smoke)" if smoke else torch.cuda.get_device_name(device)
    print(f"device: {name}; student {size}, B{b} x T{t}, bf16 autocast, fused AdamW")
    steps = [train_steps(GPTConfig(vocab_size=v, block_size=t, **size), b, t, device)
             for v in (256, 50304)]  # fmt: skip
    for r in steps:
        mfu = {k: "n/a" if r[k] is None else f"{r[k]:.2f}" for k in ("ce_mfu", "kd_mfu")}
        print(f"  V={r['V']:6} {r['params_M']:6.1f}M params  CE {r['ce_tok_s']:10,.0f} tok/s "
              f"MFU {mfu['ce_mfu']} peak {r['ce_peak_gb']:5.1f} GB | KD top-32 "
              f"{r['kd_tok_s']:10,.0f} tok/s MFU {mfu['kd_mfu']} peak {r['kd_peak_gb']:5.1f} GB"
              f" | KD/CE {r['kd_vs_ce']:.2f}x (target >= 0.9)")  # fmt: skip
    n, v = (256, 1000) if smoke else (8192, 128256)
    loss = loss_alone(n, v, 64 if smoke else 768, device)
    plain = {r["variant"]: r for r in loss}
    print(f"KD loss alone, N={n}, V={v}, forward + backward (median of 5):")
    for r in loss:
        ref = plain["plain_head" if r["variant"] in {"fused", "plain_head"} else "plain"]
        print(
            f"  {r['variant']:10} +{r['extra_gb']:6.2f} GB  {r['seconds'] * 1e3:8.1f} ms  "
            f"{r['seconds'] / ref['seconds']:.2f}x time vs {ref['variant']} (target <= 1.1)"
        )
    write("gpu" if not smoke else "gpu-smoke", {"device": name, "steps": steps, "loss": loss})
    return 0


if __name__ == "__main__":
    sys.exit(main(smoke="--smoke" in sys.argv[1:]))
