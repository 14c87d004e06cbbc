"""On-policy against offline distillation at demo scale, and what on-policy steps cost.

Per corpus (the embedded pydoc text, and the docstrings of a fixed list of standard-library
modules), the demo's teacher (small) is pretrained and cached; per seed, the demo's student
(tiny) is distilled offline with the demo's schedule, then continued for N more steps five
ways: offline (distill train from the cache, lr 1e-3), and on-policy (its default lr, 1e-4)
at lambda 1 and 0.5 with each objective. Each model is then scored by `distill eval`'s
measure on the validation split (256 samples of 32 tokens after 32-token prompts): the
teacher's NLL of its samples, the reverse KL estimate, and the validation loss. Mean and
spread over 3 seeds.

Speed, on one thread: sampling 128 tokens with the KV cache against recomputing the prefix,
the share of an on-policy step spent generating, and an on-policy step (lambda 1) against an
offline one, each the median of interleaved repeats in this process.

Targets: on-policy lowers the teacher's NLL of the samples by >= 5% against the
same number of offline steps without raising validation loss by more than 2%; generation with
the cache >= 5x faster at 128 tokens; an on-policy step <= 3x an offline step.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from bench._common import check, interleaved, write
from distill import loss as kd
from distill import onpolicy, rollout, stages, train
from distill.config import (
    ONPOLICY_SCHEDULE,
    STUDENT_SCHEDULE,
    TEACHER_SCHEDULE,
    DataConfig,
    OnPolicyConfig,
    PrecomputeConfig,
    TrainConfig,
)
from distill.model import GPT, SIZES

LONG = True  # 2 corpora x 3 seeds: `make bench-onpolicy`, not `make bench`
SEEDS = (0, 1, 2)
STEPS = 100  # the continuation: offline or on-policy, the same number of optimizer steps
OFFLINE_LR = 1e-3  # offline's best of 1e-4 / 3e-4 / 1e-3 on seed 0; on-policy: its default
SAMPLES = 256
VARIANTS = {  # name: (lambda, objective); None: offline
    "offline": None,
    "on-policy l=1 full": (1.0, "full"),
    "on-policy l=1 sampled": (1.0, "sampled"),
    "on-policy l=0.5 full": (0.5, "full"),
    "on-policy l=0.5 sampled": (0.5, "sampled"),
}
# the second corpus: standard-library docstrings, the same text for a given Python version
MODULES = (
    "argparse", "asyncio", "collections", "concurrent.futures", "contextlib", "csv",
    "dataclasses", "datetime", "decimal", "email.message", "enum", "fractions", "functools",
    "http.client", "inspect", "itertools", "json", "logging", "pathlib", "pickle", "random",
    "re", "shutil", "socket", "sqlite3", "statistics", "string", "subprocess", "tarfile",
    "textwrap", "threading", "typing", "unittest", "urllib.parse", "uuid", "zipfile",
)  # fmt: skip


def stdlib_docstrings() -> bytes:
    """Every docstring of the modules above and of their public classes and functions."""
    parts: list[str] = []
    for name in MODULES:
        module = importlib.import_module(name)
        parts.append(inspect.getdoc(module) or "")
        for attr in sorted(dir(module)):
            obj = getattr(module, attr, None)
            if attr.startswith("_") or not (inspect.isclass(obj) or inspect.isfunction(obj)):
                continue
            parts.append(inspect.getdoc(obj) or "")
    return "\n\n".join(p for p in parts if p).encode("utf-8")


def _teacher(root: Path, data: tuple[Path, ...]) -> Path:
    teacher = stages.pretrain(
        out_dir=root / "teacher", data_paths=data, size="small", data_cfg=DataConfig(),
        cfg=TrainConfig(alpha=0.0, **dataclasses.asdict(TEACHER_SCHEDULE)), device="cpu",
        resume=False, quiet=True,
    )  # fmt: skip
    stages.precompute(
        teacher_path=teacher.model_dir, out_dir=root / "cache", data_paths=data,
        data_cfg=DataConfig(), cfg=PrecomputeConfig(), device="cpu", quiet=True,
    )  # fmt: skip
    return teacher.model_dir


def _score(model_dir: Path, teacher: Path, data: tuple[Path, ...], seed: int) -> dict[str, float]:
    found = stages.evaluate(
        model_path=model_dir, data_paths=data, teacher_path=teacher, samples=SAMPLES,
        seed=seed, seq_len=128, eval_windows=64, prompt_len=32, gen_len=32,
        val_fraction=0.1, device="cpu",
    )  # fmt: skip
    return {k: float(found[k]) for k in ("val_loss", "teacher_nll_of_samples",
                                          "reverse_kl_of_samples")}  # fmt: skip


def _continue(
    variant: tuple[float, str] | None, root: Path, student: Path, teacher: Path,
    data: tuple[Path, ...], seed: int,
) -> tuple[Path, float]:  # fmt: skip
    """N more steps of `student`, offline or on-policy; (its model dir, wall seconds)."""
    cfg = TrainConfig(seed=seed, epochs=1, steps_per_epoch=STEPS, lr=OFFLINE_LR,
                      warmup_steps=0, drift_tolerance=0.0)  # fmt: skip
    start = time.perf_counter()
    if variant is None:
        out = stages.distill(
            cache_path=root / "cache", out_dir=root / f"offline-{seed}", student_path=student,
            size="tiny", cfg=cfg, device="cpu", resume=False, quiet=True,
        )  # fmt: skip
    else:
        lmbda, objective = variant
        out = stages.on_policy(
            teacher_path=teacher, student_path=student,
            out_dir=root / f"on-{lmbda}-{objective}-{seed}", data_paths=data, val_fraction=0.1,
            cfg=dataclasses.replace(cfg, divergence="reverse_kl", lr=ONPOLICY_SCHEDULE.lr),
            policy=OnPolicyConfig(lmbda=lmbda, objective=objective), device="cpu",
            resume=False, quiet=True,
        )  # fmt: skip
    return out.model_dir, time.perf_counter() - start


def _corpus(name: str, root: Path, data: tuple[Path, ...]) -> dict[str, Any]:
    teacher = _teacher(root, data)
    rows: dict[str, list[dict[str, float]]] = {v: [] for v in ["start", *VARIANTS]}
    for seed in SEEDS:
        cfg = TrainConfig(seed=seed, **dataclasses.asdict(STUDENT_SCHEDULE))
        student = stages.distill(
            cache_path=root / "cache", out_dir=root / f"student-{seed}", student_path=None,
            size="tiny", cfg=cfg, device="cpu", resume=False, quiet=True,
        ).model_dir  # fmt: skip
        rows["start"].append(_score(student, teacher, data, seed))
        for variant, spec in VARIANTS.items():
            model_dir, wall = _continue(spec, root, student, teacher, data, seed)
            rows[variant].append({**_score(model_dir, teacher, data, seed), "wall_s": wall})
    return {"corpus": name, "teacher_val_loss": _score(teacher, teacher, data, 0)["val_loss"],
            "rows": rows}  # fmt: skip


def _mean(values: list[float]) -> str:
    spread = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.4f} ± {spread:.4f}"


def _table(result: dict[str, Any]) -> list[str]:
    rows = result["rows"]
    lines = [
        f"  corpus: {result['corpus']} (teacher val loss {result['teacher_val_loss']:.4f}); "
        f"+{STEPS} steps from the distilled student, mean ± sd over {len(SEEDS)} seeds",
        f"  {'model':26} {'teacher NLL of samples':>22} {'reverse KL of samples':>22} "
        f"{'val loss':>18} {'wall s':>7}",
    ]
    for name, runs in rows.items():
        wall = f"{statistics.mean(r['wall_s'] for r in runs):7.1f}" if "wall_s" in runs[0] else ""
        lines.append(
            f"  {name:26} {_mean([r['teacher_nll_of_samples'] for r in runs]):>22} "
            f"{_mean([r['reverse_kl_of_samples'] for r in runs]):>22} "
            f"{_mean([r['val_loss'] for r in runs]):>18} {wall:>7}"
        )
    return lines


def _speed() -> dict[str, float]:
    """Cache against recompute at 128 tokens; generation's share of an on-policy step and an
    on-policy step against an offline one, both on the tiny student, batch 16, one thread."""
    torch.manual_seed(0)
    student, teacher = GPT(SIZES["tiny"]), GPT(SIZES["small"])
    prompts = torch.randint(0, 256, (16, 32), generator=torch.Generator().manual_seed(1))

    def sampler(use_cache: bool) -> Callable[[], object]:
        return lambda: rollout.continue_ids(
            student, prompts, steps=128, temperature=1.0, gen=torch.Generator().manual_seed(2),
            use_cache=use_cache,
        )  # fmt: skip

    gen = interleaved({"cache": sampler(True), "recompute": sampler(False)}, repeats=3)
    policy = OnPolicyConfig()
    cfg = TrainConfig(divergence="reverse_kl", alpha=1.0)
    objective = onpolicy.OnPolicy(teacher=onpolicy.freeze(teacher), policy=policy, config=cfg)
    windows = torch.randint(0, 256, (16, policy.window + 1), generator=torch.Generator())
    offline = torch.randint(0, 256, (16, 129), generator=torch.Generator().manual_seed(3))
    values, ids = torch.randn(16, 128, 256).topk(PrecomputeConfig().top_k, dim=-1)
    cached = kd.TopK(ids=ids, values=values, lse=None)  # an offline step's teacher: the cache's
    offline_cfg = TrainConfig()  # forward KL + CE, as distill train

    def on_step() -> None:
        out, _, _ = objective(
            student, windows[:, :-1], windows[:, 1:], step=0, micro=0, normalizer=16 * 32
        )
        out.total.backward()

    def off_step() -> None:
        x, y = offline[:, :-1], offline[:, 1:]
        out = train.student_loss(student, x, y, cached, offline_cfg, alpha=0.9, temperature=1.0)
        out.total.backward()

    def sample_only() -> None:
        rollout.continue_ids(student, windows[:, :32], steps=32, temperature=1.0,
                             gen=torch.Generator().manual_seed(4))  # fmt: skip

    steps = interleaved({"on": on_step, "off": off_step, "sample": sample_only}, repeats=9)
    return {
        "cache_speedup": gen["recompute"]["cpu_s"] / gen["cache"]["cpu_s"],
        "generation_share": steps["sample"]["cpu_s"] / steps["on"]["cpu_s"],
        "step_ratio": steps["on"]["cpu_s"] / steps["off"]["cpu_s"],
        "cache_tokens_per_s": 16 * 128 / gen["cache"]["cpu_s"],
        "recompute_tokens_per_s": 16 * 128 / gen["recompute"]["cpu_s"],
    }


def main() -> int:
    torch.set_num_threads(1)
    speed = _speed()
    cached, plain = speed["cache_tokens_per_s"], speed["recompute_tokens_per_s"]
    print(f"  sampling 16 x 128 tokens (tiny): {cached:,.0f} tokens/s with the KV cache, "
          f"{plain:,.0f} recomputing the prefix")  # fmt: skip
    results = []
    with tempfile.TemporaryDirectory(prefix="distill-onpolicy-") as tmp:
        root = Path(tmp)
        second = root / "stdlib-docstrings.txt"
        second.write_bytes(stdlib_docstrings())
        for name, data in (("embedded pydoc", ()), ("stdlib docstrings", (second,))):
            (root / name).mkdir()
            results.append(_corpus(name, root / name, data))
            for line in _table(results[-1]):
                print(line, flush=True)
    rows = []
    for result in results:
        off = result["rows"]["offline"]
        nll = statistics.mean(r["teacher_nll_of_samples"] for r in off)
        val = statistics.mean(r["val_loss"] for r in off)
        for variant in ("on-policy l=1 full", "on-policy l=0.5 full"):
            runs = result["rows"][variant]
            on_nll = statistics.mean(r["teacher_nll_of_samples"] for r in runs)
            on_val = statistics.mean(r["val_loss"] for r in runs)
            label = f"{result['corpus']}, {variant}"
            rows.append(check(f"{label}: NLL of samples / offline's", on_nll / nll,
                              0.95, at_most=True))  # fmt: skip
            rows.append(check(f"{label}: val loss / offline's", on_val / val, 1.02, at_most=True))
    rows.append(check("sampling 128 tokens: recompute / KV cache", speed["cache_speedup"], 5.0,
                      at_most=False))  # fmt: skip
    rows.append(check("on-policy step (lambda 1) / offline step", speed["step_ratio"], 3.0,
                      at_most=True))  # fmt: skip
    print(f"  share of an on-policy step spent generating: {speed['generation_share']:.0%}")
    write("onpolicy", {"speed": speed, "corpora": results, "checks": rows})
    return 0 if all(r["met"] for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
