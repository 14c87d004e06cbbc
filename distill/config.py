"""Frozen, validated configs for every stage; checkpoints and cache manifests store them
resolved (as dicts), so a resume or a cache can be checked against the run that made it."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from distill.errors import ConfigError

# the divergences of distill.divergence and the top-k tail policies of distill.kernel, named
# here so the config stays importable without torch
DIVERGENCE_NAMES = ("forward_kl", "reverse_kl", "jsd", "skew_kl", "tvd")
TAIL_POLICIES = ("zero", "bucket")
OBJECTIVES = ("full", "sampled")  # distill onpolicy --objective


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise ConfigError(message)


def _in_range(name: str, value: float, low: float, high: float) -> None:
    _check(
        math.isfinite(value) and low <= value <= high,
        f"{name} must be in [{low:g}, {high:g}], got {value:g}",
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class DataConfig:
    """How a token stream is cut: a tail fraction for validation, windows of `seq_len`;
    `tokenizer` (`name:sha256`) says which ids they are, so a cache and a student can agree."""

    seq_len: int = 128
    val_fraction: float = 0.1
    tokenizer: str = "bytes"

    def __post_init__(self) -> None:
        _in_range("seq_len", self.seq_len, 2, 65536)
        _in_range("val_fraction", self.val_fraction, 0.01, 0.5)
        _check(bool(self.tokenizer), "tokenizer must name the tokenizer the ids come from")


@dataclass(frozen=True, slots=True, kw_only=True)
class PrecomputeConfig:
    """Teacher pass: top_k=0 stores full logits; otherwise k (ids, logits) per token."""

    top_k: int = 32
    batch_size: int = 16
    shard_windows: int = 1024
    max_windows: int = 0  # 0 = every training window

    def __post_init__(self) -> None:
        _in_range("top_k", self.top_k, 0, 1 << 20)
        _in_range("batch_size", self.batch_size, 1, 4096)
        _in_range("shard_windows", self.shard_windows, 1, 1 << 24)
        _in_range("max_windows", self.max_windows, 0, 1 << 31)


@dataclass(frozen=True, slots=True, kw_only=True)
class TrainConfig:
    """One training run. loss = alpha*T^2*KL + (1-alpha)*CE; alpha=0 is plain pretraining."""

    # T=1, alpha=0.9: measured best of the (alpha, T) grid tried on the embedded corpus
    # (see bench/kd_vs_scratch.py); higher T hurt a student this small on this budget.
    alpha: float = 0.9
    temperature: float = 1.0
    epochs: int = 3
    steps_per_epoch: int = 0  # 0 = one full pass over the training windows
    batch_size: int = 16
    grad_accum: int = 1
    lr: float = 3e-3
    min_lr_ratio: float = 0.1
    warmup_steps: int = 20
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    seed: int = 0
    eval_windows: int = 64
    loss_chunk: int = 4096
    drift_tolerance: float = 0.05
    divergence: str = "forward_kl"
    beta: float = 0.5  # jsd's mixing weight (TRL's GKD default)
    skew: float = 0.1  # skew_kl's mixing weight (DistiLLM's default)
    tail: str = "zero"

    def __post_init__(self) -> None:
        _in_range("alpha", self.alpha, 0.0, 1.0)
        _check(
            math.isfinite(self.temperature) and 0 < self.temperature <= 100,
            f"temperature must be in (0, 100], got {self.temperature:g}",
        )
        _in_range("epochs", self.epochs, 1, 100000)
        _in_range("steps_per_epoch", self.steps_per_epoch, 0, 1 << 31)
        _in_range("batch_size", self.batch_size, 1, 4096)
        _in_range("grad_accum", self.grad_accum, 1, 1024)
        _check(
            math.isfinite(self.lr) and 0 < self.lr <= 1,
            f"lr must be in (0, 1], got {self.lr:g}",
        )
        _in_range("min_lr_ratio", self.min_lr_ratio, 0.0, 1.0)
        _in_range("warmup_steps", self.warmup_steps, 0, 1 << 31)
        _in_range("weight_decay", self.weight_decay, 0.0, 10.0)
        _in_range("grad_clip", self.grad_clip, 0.0, 1e6)
        _in_range("seed", self.seed, 0, 2**63 - 1)
        _in_range("eval_windows", self.eval_windows, 1, 1 << 31)
        _in_range("loss_chunk", self.loss_chunk, 1, 1 << 31)
        _in_range("drift_tolerance", self.drift_tolerance, 0.0, 10.0)
        self._check_divergence()

    def _check_divergence(self) -> None:
        _check(
            self.divergence in DIVERGENCE_NAMES,
            f"unknown divergence {self.divergence!r}: choose one of {', '.join(DIVERGENCE_NAMES)}",
        )
        _in_range("beta", self.beta, 0.0, 1.0)
        _check(
            math.isfinite(self.skew) and 0.0 <= self.skew < 1.0,
            f"skew must be in [0, 1), got {self.skew:g}",
        )
        _check(
            self.tail in TAIL_POLICIES,
            f"unknown tail policy {self.tail!r}: choose one of {', '.join(TAIL_POLICIES)}",
        )
        _check(
            self.tail != "bucket" or self.temperature == 1.0,
            f"tail bucket needs temperature 1 (the cache's logsumexp is at T=1), "
            f"got {self.temperature:g}",
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class OnPolicyConfig:
    """The on-policy phase (GKD): with probability `lmbda` (TRL's name for GKD's lambda) a
    micro-batch's continuations are the student's own samples, otherwise the corpus's; the
    loss is taken on the `gen_len` continuation tokens after a `prompt_len` prompt."""

    lmbda: float = 1.0
    objective: str = "full"
    prompt_len: int = 32
    gen_len: int = 32
    gen_temperature: float = 1.0

    def __post_init__(self) -> None:
        _in_range("lambda", self.lmbda, 0.0, 1.0)
        _check(
            self.objective in OBJECTIVES,
            f"unknown objective {self.objective!r}: choose one of {', '.join(OBJECTIVES)}",
        )
        _in_range("prompt_len", self.prompt_len, 1, 65536)
        _in_range("gen_len", self.gen_len, 1, 65536)
        _in_range("gen_temperature", self.gen_temperature, 0.0, 100.0)
        _check(
            self.objective != "sampled" or self.gen_temperature == 1.0,
            "the sampled objective estimates KL(q || p) from samples of q itself: it needs "
            f"--gen-temperature 1, got {self.gen_temperature:g}",
        )

    @property
    def window(self) -> int:
        """Tokens a micro-batch row holds: the prompt and the corpus's continuation."""
        return self.prompt_len + self.gen_len


def as_dict(config: Any) -> dict[str, Any]:
    """The resolved config as plain JSON-able data (for manifests and checkpoints)."""
    return dataclasses.asdict(config)


@dataclass(frozen=True, slots=True, kw_only=True)
class Schedule:
    """Demo-scale defaults for a stage: `distill run` must finish in minutes on 2 CPU cores."""

    epochs: int
    steps_per_epoch: int
    lr: float
    drift_tolerance: float = 0.05  # the drift gate: the weights must move more than this


TEACHER_SCHEDULE = Schedule(epochs=2, steps_per_epoch=450, lr=3e-3)
STUDENT_SCHEDULE = Schedule(epochs=3, steps_per_epoch=250, lr=3e-3)
# On-policy continues a trained student: a small learning rate (at 1e-3 the tiny student traded
# its corpus loss for the teacher's modes) and weights that move less than a fresh run's.
ONPOLICY_SCHEDULE = Schedule(epochs=1, steps_per_epoch=100, lr=1e-4, drift_tolerance=0.002)
