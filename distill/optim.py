"""AdamW, its warmup + cosine schedule as a torch LambdaLR (whose state rides in the
checkpoint), and a digest of the optimizer state for metadata.json."""

from __future__ import annotations

import hashlib
import math
from typing import Any

import torch
from torch import nn

from distill.config import TrainConfig


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


def make_scheduler(
    optimizer: torch.optim.Optimizer, config: TrainConfig, total_steps: int
) -> torch.optim.lr_scheduler.LambdaLR:
    """`lr_factor` as a torch scheduler, so its state rides in the checkpoint."""

    def factor(step: int) -> float:
        return lr_factor(step, config, total_steps)

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def count_updates(optimizer: torch.optim.Optimizer) -> list[int]:
    """A counter the optimizer bumps after each real `step()` (a public post-hook).

    The schedule advances only after a real update: a skipped update (the never-steps
    mutant; a future inf-skipping grad scaler) leaves the learning rate where it was, and
    torch never sees `scheduler.step()` before `optimizer.step()` (which it warns about).
    """
    box = [0]

    def bump(*_: Any) -> None:
        box[0] += 1

    optimizer.register_step_post_hook(bump)
    return box


def optimizer_sha(optimizer: torch.optim.Optimizer) -> str:
    digest = hashlib.sha256()
    for _, state in sorted(optimizer.state_dict()["state"].items()):
        for key in sorted(state):
            value = state[key]
            if isinstance(value, torch.Tensor):
                digest.update(value.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()
