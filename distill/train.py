"""The one training loop, used for distillation (alpha > 0, teacher logits from the cache)
and for pretraining (alpha = 0, no cache). It never runs a teacher. Read it top to bottom:
schedule -> eval/checkpoint -> forward/accumulate -> clip/step -> log."""

from __future__ import annotations

import contextlib
import hashlib
import math
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from distill import loss as kd
from distill.batches import Batches, epoch_order, to_device, val_windows
from distill.checkpoint import (
    CHECKPOINT,
    atomic_write_json,
    load_checkpoint,
    rng_state,
    save_checkpoint,
    set_rng_state,
)
from distill.config import TrainConfig
from distill.errors import TrainingError
from distill.model import save_model

METADATA = "metadata.json"
INITIAL = "initial_model.pt"
StepHook = Callable[[int, int, float, float], None]


@dataclass(frozen=True, slots=True, kw_only=True)
class Outcome:
    model_dir: Path
    metadata: dict[str, Any]


def lr_factor(step: int, config: TrainConfig, total_steps: int) -> float:
    """Linear warmup, then cosine decay to min_lr_ratio of the peak at the last step."""
    if step < config.warmup_steps:
        return (step + 1) / (config.warmup_steps + 1)
    span = max(total_steps - config.warmup_steps, 1)
    progress = min((step - config.warmup_steps) / span, 1.0)
    cosine = 0.5 * (1.0 + math.cos(math.pi * progress))
    return config.min_lr_ratio + (1.0 - config.min_lr_ratio) * cosine


def make_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.AdamW:
    """AdamW; matrices decay, biases and norms do not."""
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [
        {"params": [p for p in params if p.dim() >= 2], "weight_decay": config.weight_decay},
        {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=config.lr, betas=(0.9, 0.95))


def optimizer_step(optimizer: torch.optim.Optimizer) -> None:
    """One parameter update (a seam: tests and mutants replace it)."""
    optimizer.step()


def optimizer_sha(optimizer: torch.optim.Optimizer) -> str:
    digest = hashlib.sha256()
    for _, state in sorted(optimizer.state_dict()["state"].items()):
        for key in sorted(state):
            value = state[key]
            if isinstance(value, torch.Tensor):
                digest.update(value.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


@torch.no_grad()
def evaluate(
    model: nn.Module, batches: Batches, config: TrainConfig, device: torch.device
) -> float:
    """Mean cross-entropy per token on the first `eval_windows` validation windows."""
    model.eval()
    wins = val_windows(batches, config.eval_windows)
    total, count = 0.0, 0
    for a in range(0, len(wins), config.batch_size):
        x, y, _ = to_device((wins[a : a + config.batch_size], None, None), device)
        out = kd.kd_loss(
            model(x), y, None, alpha=0.0, temperature=1.0, chunk_size=config.loss_chunk
        )
        total, count = total + out.ce * out.tokens, count + out.tokens
    model.train()
    return total / max(count, 1)


def relative_change(model: nn.Module, initial: dict[str, torch.Tensor]) -> float:
    """||w - w0|| / ||w0|| over every matrix and embedding (norm vectors would dominate)."""
    diff, base = 0.0, 0.0
    for name, tensor in model.state_dict().items():
        if tensor.dim() >= 2 and name in initial:
            w0 = initial[name].double()
            diff += float((tensor.detach().cpu().double() - w0).pow(2).sum())
            base += float(w0.pow(2).sum())
    return math.sqrt(diff) / max(math.sqrt(base), 1e-30)


def _autocast(device: torch.device) -> contextlib.AbstractContextManager[Any]:
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def _micro_batches(
    order: np.ndarray, step_in_epoch: int, config: TrainConfig
) -> Iterator[np.ndarray]:
    per_step = config.batch_size * config.grad_accum
    start = step_in_epoch * per_step
    for m in range(config.grad_accum):
        a = start + m * config.batch_size
        yield np.take(order, np.arange(a, a + config.batch_size), mode="wrap")


def train(
    model: nn.Module,
    batches: Batches,
    config: TrainConfig,
    *,
    out_dir: Path,
    model_subdir: str,
    run_config: dict[str, Any],
    device: torch.device,
    resume: bool = False,
    on_step: StepHook | None = None,
) -> Outcome:
    """Train `model` on `batches`; checkpoint and append to metadata.json after each epoch."""
    per_step = config.batch_size * config.grad_accum
    steps_per_epoch = config.steps_per_epoch or max(batches.n_windows // per_step, 1)
    total_steps = steps_per_epoch * config.epochs
    model.to(device).train()
    optimizer = make_optimizer(model, config)
    ckpt_path, meta_path = out_dir / CHECKPOINT, out_dir / METADATA
    metadata: dict[str, Any] = {"config": run_config, "epochs": []}
    step = 0
    if resume:
        state = load_checkpoint(ckpt_path, run_config)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        set_rng_state(state["rng"])
        step, metadata = state["step"], state["metadata"]
        initial = torch.load(out_dir / INITIAL, map_location="cpu", weights_only=True)
    else:
        initial = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
        torch.save(initial, out_dir / INITIAL)
    sums = np.zeros(4)  # objective, kl, ce, tokens over the current epoch
    epoch_start = time.perf_counter()
    while True:
        # -- schedule: which windows this step reads, and its learning rate --
        epoch, step_in_epoch = divmod(step, steps_per_epoch)
        lr = config.lr * lr_factor(step, config, total_steps)
        for group in optimizer.param_groups:
            group["lr"] = lr

        # -- eval/checkpoint: at each epoch boundary (the state after `step` updates) --
        if step_in_epoch == 0 and step > 0 and sums[3] > 0:
            wall = time.perf_counter() - epoch_start
            tokens_seen = metadata["epochs"][-1]["tokens_seen"] if metadata["epochs"] else 0
            metadata["epochs"].append(
                {
                    "epoch": epoch,
                    "step": step,
                    "train_loss": sums[0] / sums[3],
                    "total_loss": sums[0] / sums[3],
                    "kl_loss": sums[1] / sums[3],
                    "ce_loss": sums[2] / sums[3],
                    "val_loss": evaluate(model, batches, config, device),
                    "lr": lr,
                    "optimizer_state_sha": optimizer_sha(optimizer),
                    "wall_seconds": wall,
                    "tokens_seen": tokens_seen + int(sums[3]),
                    "tokens_per_second": sums[3] / max(wall, 1e-9),
                }
            )
            atomic_write_json(meta_path, metadata)
            save_checkpoint(
                ckpt_path,
                {
                    "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "scheduler": {"warmup_cosine_step": step},
                    "step": step,
                    "rng": rng_state(),
                    "config": run_config,
                    "metadata": metadata,
                },
            )
            sums[:] = 0.0
            epoch_start = time.perf_counter()
        if step >= total_steps:
            break

        # -- forward/accumulate: the loss is normalised by the whole step's token count --
        order = epoch_order(batches.n_windows, config.seed, epoch)
        micro = [batches.fetch(idx) for idx in _micro_batches(order, step_in_epoch, config)]
        step_tokens = sum(int(m[0].shape[0] * (m[0].shape[1] - 1)) for m in micro)
        for fetched in micro:
            x, y, teacher = to_device(fetched, device)
            with _autocast(device):
                logits = model(x)
            out = kd.kd_loss(
                logits,
                y,
                teacher,
                alpha=config.alpha,
                temperature=config.temperature,
                normalizer=step_tokens,
                chunk_size=config.loss_chunk,
            )
            if not torch.isfinite(out.total):
                raise TrainingError(_non_finite(step, out.total, ckpt_path))
            out.total.backward()  # type: ignore[no-untyped-call]
            sums += (
                out.total.item() * step_tokens,
                out.kl * out.tokens,
                out.ce * out.tokens,
                out.tokens,
            )

        # -- clip/step --
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip or math.inf)
        if not torch.isfinite(norm):
            raise TrainingError(_non_finite(step, norm, ckpt_path, what="gradient norm"))
        optimizer_step(optimizer)
        optimizer.zero_grad(set_to_none=True)
        step += 1

        # -- log --
        if on_step is not None:
            on_step(
                step,
                total_steps,
                sums[0] / max(sums[3], 1),
                sums[3] / max(time.perf_counter() - epoch_start, 1e-9),
            )

    return _finish(model, initial, metadata, config, out_dir / model_subdir, meta_path)


def _non_finite(step: int, value: torch.Tensor, ckpt: Path, what: str = "loss") -> str:
    kept = f"last good checkpoint kept at {ckpt}" if ckpt.is_file() else "no checkpoint yet"
    return f"{what} became {float(value.detach())} at step {step}; training stopped ({kept})"


def _finish(
    model: nn.Module,
    initial: dict[str, torch.Tensor],
    metadata: dict[str, Any],
    config: TrainConfig,
    model_dir: Path,
    meta_path: Path,
) -> Outcome:
    """Publish the model by one rename, then apply the seed's drift-prevention gate."""
    tmp = model_dir.with_name(f".{model_dir.name}.partial")
    shutil.rmtree(tmp, ignore_errors=True)
    save_model(model.cpu(), tmp)
    shutil.rmtree(model_dir, ignore_errors=True)
    tmp.rename(model_dir)
    change = relative_change(model, initial)
    passed = change > config.drift_tolerance
    metadata["drift_gate"] = {
        "relative_change": change,
        "tolerance": config.drift_tolerance,
        "passed": passed,
        "measure": "||w - w0|| / ||w0|| over all matrices and embeddings",
    }
    atomic_write_json(meta_path, metadata)
    if not passed:
        raise TrainingError(
            f"drift gate failed: the trained model differs from its input by {change:.2%} "
            f"(<= {config.drift_tolerance:.0%}); it was not really trained"
        )
    return Outcome(model_dir=model_dir, metadata=metadata)
