"""Engine throughput, as ratios measured in one process, interleaved, medians (torch on one
thread; CPU time judged, wall printed beside it).

train: a KD step (memory-mapped top-32 cache read + student forward/backward + loss + AdamW)
vs a plain cross-entropy step of the same student on the same windows. Target >= 0.9x.
precompute: `write_cache` (teacher forward + top-k + fp16 + write + sha256) vs a bare
teacher forward over the same windows, batch for batch. Target >= 0.9x.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from bench._common import check, interleaved, write
from distill import batches, cache, data, model
from distill.config import DataConfig, PrecomputeConfig, TrainConfig
from distill.optim import make_optimizer
from distill.train import student_loss

ROUNDS = int(os.environ.get("DISTILL_BENCH_ROUNDS", "25"))
SEQ, BATCH, TOP_K, WINDOWS = 128, 16, 32, 256
CPU = torch.device("cpu")


def _setup(tmp: Path) -> tuple[data.Corpus, DataConfig, model.GPT, PrecomputeConfig]:
    dc = DataConfig(seq_len=SEQ)
    corpus = data.split(data.tokenize(data.default_text()), dc, 256)
    torch.manual_seed(0)
    teacher = model.GPT(model.SIZES["small"]).eval()
    pc = PrecomputeConfig(top_k=TOP_K, batch_size=32, shard_windows=64, max_windows=WINDOWS)
    return corpus, dc, teacher, pc


def _write(tmp: Path, tag: str, corpus: data.Corpus, dc: DataConfig, teacher: model.GPT,
           pc: PrecomputeConfig) -> Path:  # fmt: skip
    out = tmp / tag
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    return cache.write_cache(
        out, teacher=teacher, corpus=corpus, data=dc, precompute=pc,
        teacher_fingerprint="bench", data_fingerprint="bench", device=CPU,
    )  # fmt: skip


def train_steps(cache_dir: Path, corpus: data.Corpus) -> dict[str, dict[str, float]]:
    """Median seconds of a KD step and a CE step, interleaved on identical students."""
    cfg = TrainConfig()
    src = batches.from_cache(cache.open_cache(cache_dir))
    wins = data.windows(corpus.train, SEQ)[:WINDOWS]
    torch.manual_seed(1)
    kd_net = model.GPT(model.SIZES["tiny"])
    ce_net = model.GPT(model.SIZES["tiny"])
    ce_net.load_state_dict(kd_net.state_dict())
    kd_opt, ce_opt = make_optimizer(kd_net, cfg), make_optimizer(ce_net, cfg)
    rng = np.random.default_rng(0)
    order = {"idx": rng.permutation(WINDOWS)[:BATCH]}

    def kd_step() -> None:
        x, y, teacher = batches.to_device(src.fetch(order["idx"]), CPU)
        out = student_loss(kd_net, x, y, teacher, cfg, alpha=0.9, temperature=1.0,
                           normalizer=y.numel())  # fmt: skip
        out.total.backward()  # type: ignore[no-untyped-call]
        torch.nn.utils.clip_grad_norm_(kd_net.parameters(), 1.0)
        kd_opt.step()
        kd_opt.zero_grad(set_to_none=True)

    def ce_step() -> None:
        tokens = torch.from_numpy(wins[order["idx"]].astype(np.int64))
        x, y = tokens[:, :-1], tokens[:, 1:]
        loss = F.cross_entropy(ce_net(x).reshape(-1, 256), y.reshape(-1))
        loss.backward()  # type: ignore[no-untyped-call]
        torch.nn.utils.clip_grad_norm_(ce_net.parameters(), 1.0)
        ce_opt.step()
        ce_opt.zero_grad(set_to_none=True)

    def read() -> None:
        batches.to_device(src.fetch(order["idx"]), CPU)

    def next_batch() -> None:
        order["idx"] = rng.permutation(WINDOWS)[:BATCH]

    interleaved({"kd": kd_step, "ce": ce_step}, 3)  # warm-up
    return interleaved({"kd": kd_step, "ce": ce_step, "read": read, "next": next_batch}, ROUNDS)


def main() -> int:
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory(prefix="distill-bench-") as name:
        tmp = Path(name)
        corpus, dc, teacher, pc = _setup(tmp)
        cache_dir = _write(tmp, "cache", corpus, dc, teacher, pc)
        steps = train_steps(cache_dir, corpus)
        wins = data.windows(corpus.train, SEQ)[:WINDOWS]

        @torch.no_grad()
        def bare() -> None:
            for a in range(0, WINDOWS, pc.batch_size):
                teacher(torch.from_numpy(wins[a : a + pc.batch_size, :-1].astype(np.int64)))

        pre = interleaved({"bare": bare, "precompute": lambda: _write(
            tmp, "again", corpus, dc, teacher, pc)}, 5)  # fmt: skip
    tokens = BATCH * SEQ
    print(f"tiny student, B={BATCH} T={SEQ}, top-{TOP_K} cache; small teacher; medians")
    rows: dict[str, Any] = {"train": steps, "precompute": pre}
    for name, r in {**steps, **pre}.items():
        print(f"  {name:11} cpu {r['cpu_s'] * 1e3:8.2f} ms   wall {r['wall_s'] * 1e3:8.2f} ms")
    print(f"  KD step {tokens / steps['kd']['cpu_s']:,.0f} tok/s, CE step "
          f"{tokens / steps['ce']['cpu_s']:,.0f} tok/s (CPU time)")  # fmt: skip
    # (name, numerator, denominator, target, at_most): tokens/s ratios are time ratios inverted
    ratios = [
        ("train: KD step tokens/s / CE step tokens/s", steps["ce"], steps["kd"], 0.9, False),
        ("train: cache read + to_device, share of the KD step", steps["read"], steps["kd"], 0.05,
         True),
        ("precompute tokens/s / bare teacher forward tokens/s", pre["bare"], pre["precompute"],
         0.9, False),
    ]  # fmt: skip
    checks = [
        check(name, num["cpu_s"] / den["cpu_s"], t, at_most=m) for name, num, den, t, m in ratios
    ]
    checks += [
        check("(wall) train: KD / CE tokens/s", steps["ce"]["wall_s"] / steps["kd"]["wall_s"],
              0.9, at_most=False),
        check("(wall) precompute / bare forward tokens/s",
              pre["bare"]["wall_s"] / pre["precompute"]["wall_s"], 0.9, at_most=False),
    ]  # fmt: skip
    write("throughput", {"method": __doc__, "rounds": ROUNDS, "rows": rows, "checks": checks})
    judged = [c for c in checks if not c["name"].startswith("(wall)")]
    return 0 if all(c["met"] for c in judged) else 1
