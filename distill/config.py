"""Frozen, validated configs for every stage; checkpoints and cache manifests store them
resolved (as dicts), so a resume or a cache can be checked against the run that made it.

Each field a user can set is a `knob`: its default, its range or choices and its help live
here once. `__post_init__` validates against them and `distill.cli` builds its options from
them, so the help text and the validation cannot disagree."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from distill.errors import ConfigError

# the divergences of distill.divergence and the top-k tail policies of distill.kernel, named
# here so the config stays importable without torch
DIVERGENCE_NAMES = ("forward_kl", "reverse_kl", "jsd", "skew_kl", "tvd")
TAIL_POLICIES = ("zero", "bucket")
OBJECTIVES = ("full", "sampled")  # distill onpolicy --objective
SEED_MAX = 2**63 - 1  # torch.manual_seed takes a signed 64-bit seed
SIZE_CHOICES = "tiny, small, medium or a JSON file of GPT config fields"  # distill.model's
DRIFT_TOLERANCE = 0.05  # the drift gate: a fresh run's weights must move more than this
T = TypeVar("T")


def _number(value: float) -> str:
    """A bound as people read it: 65536, 0.01, 1000000, 2^31, 2^63 - 1."""
    if not isinstance(value, int):
        return f"{value:g}"
    if value >= 1 << 20 and value & (value - 1) == 0:
        return f"2^{value.bit_length() - 1}"
    if value >= 1 << 20 and (value + 1) & value == 0:
        return f"2^{value.bit_length()} - 1"
    return str(value)


@dataclass(frozen=True, slots=True)
class Bounds:
    """A closed, half-open or open interval; `str` is how help texts and errors write it."""

    low: float
    high: float
    low_open: bool = False
    high_open: bool = False

    def __contains__(self, value: object) -> bool:
        if not isinstance(value, (int, float)) or not math.isfinite(value):
            return False
        above = value > self.low if self.low_open else value >= self.low
        below = value < self.high if self.high_open else value <= self.high
        return above and below

    def __str__(self) -> str:
        left, right = "(" if self.low_open else "[", ")" if self.high_open else "]"
        return f"{left}{_number(self.low)}, {_number(self.high)}{right}"


@dataclass(frozen=True, slots=True)
class Knob:
    """What a config field accepts and how to say so. `help` may name `{range}`."""

    help: str
    bounds: Bounds | None = None
    choices: tuple[str, ...] = ()
    what: str = ""  # the name errors use, where it is not the field's ("lambda", "tail policy")

    def describe(self, help_text: str | None = None) -> str:
        """The help text with the range written in."""
        return (help_text or self.help).format(range=self.bounds)

    def check(self, name: str, value: Any) -> None:
        what = self.what or name
        if self.bounds is not None and value not in self.bounds:
            shown = f"{value:g}" if isinstance(value, (int, float)) else repr(value)
            raise ConfigError(f"{what} must be in {self.bounds}, got {shown}")
        if self.choices and value not in self.choices:
            raise ConfigError(f"unknown {what} {value!r}: choose one of {', '.join(self.choices)}")


def knob(
    default: T,
    help: str,
    bounds: Bounds | None = None,
    *,
    choices: tuple[str, ...] = (),
    what: str = "",
) -> T:
    """A dataclass field with its `Knob` as metadata."""
    spec = Knob(help=help, bounds=bounds, choices=choices, what=what)
    field: T = dataclasses.field(default=default, metadata={"knob": spec})
    return field


def knob_of(config: type, name: str) -> tuple[Knob, Any]:
    """A config class's knob for `name` and the field's default."""
    for f in dataclasses.fields(config):
        if f.name == name and "knob" in f.metadata:
            return f.metadata["knob"], f.default
    raise KeyError(f"{config.__name__}.{name} is not a knob")


def check_value(config: type, name: str, value: Any) -> None:
    """Refuse `value` where the knob `config.name` would: for callers that take the value
    without building the whole config (the loss and divergence functions)."""
    knob_of(config, name)[0].check(name, value)


def check_knobs(config: Any) -> None:
    """Every knob of a config instance within its range and choices."""
    for f in dataclasses.fields(config):
        spec = f.metadata.get("knob")
        if spec is not None:
            spec.check(f.name, getattr(config, f.name))


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise ConfigError(message)


def seed_knob(help_text: str) -> int:
    return knob(0, f"{help_text}, in {{range}}.", Bounds(0, SEED_MAX))


@dataclass(frozen=True, slots=True, kw_only=True)
class DataConfig:
    """How a token stream is cut: a tail fraction for validation, windows of `seq_len`;
    `tokenizer` (`name:sha256`) says which ids they are, so a cache and a student can agree."""

    seq_len: int = knob(128, "Tokens per training window, in {range}.", Bounds(2, 65536))
    val_fraction: float = knob(
        0.1, "Tail of the corpus held out for validation, in {range}.", Bounds(0.01, 0.5)
    )
    tokenizer: str = "bytes"

    def __post_init__(self) -> None:
        check_knobs(self)
        _check(bool(self.tokenizer), "tokenizer must name the tokenizer the ids come from")


@dataclass(frozen=True, slots=True, kw_only=True)
class PrecomputeConfig:
    """Teacher pass: top_k=0 stores full logits; otherwise k (ids, logits) per token."""

    top_k: int = knob(
        32,
        "Logits kept per token, in {range} and at most the vocabulary; 0 keeps all of them.",
        Bounds(0, 1 << 20),
    )
    batch_size: int = knob(32, "Windows per teacher forward pass, in {range}.", Bounds(1, 4096))
    shard_windows: int = knob(1024, "Windows per cache shard, in {range}.", Bounds(1, 1 << 24))
    max_windows: int = knob(
        0, "Cache only the first N training windows, in {range}; 0 = all.", Bounds(0, 1 << 31)
    )

    def __post_init__(self) -> None:
        check_knobs(self)


@dataclass(frozen=True, slots=True, kw_only=True)
class TrainConfig:
    """One training run. loss = alpha*T^2*KL + (1-alpha)*CE; alpha=0 is plain pretraining."""

    # T=1, alpha=0.9: the best of the (alpha, T) grid bench/kd_vs_scratch.py measures on the
    # embedded corpus; a higher T hurts a student this small on this budget.
    alpha: float = knob(
        0.9, "Weight of the KL term, in {range}; 1 - alpha weighs the CE term.", Bounds(0, 1)
    )
    temperature: float = knob(
        1.0, "Softmax temperature T of the KL term, in {range}.", Bounds(0, 100, low_open=True)
    )
    epochs: int = knob(3, "Epochs (a checkpoint after each), in {range}.", Bounds(1, 100000))
    steps_per_epoch: int = knob(
        0, "Optimizer steps per epoch, in {range}; 0 = one pass over the data.", Bounds(0, 1 << 31)
    )
    batch_size: int = knob(16, "Windows per micro-batch, in {range}.", Bounds(1, 4096))
    grad_accum: int = knob(1, "Micro-batches per optimizer step, in {range}.", Bounds(1, 1024))
    lr: float = knob(3e-3, "Peak AdamW learning rate, in {range}.", Bounds(0, 1, low_open=True))
    min_lr_ratio: float = knob(
        0.1, "Floor of the cosine decay, a fraction of lr, in {range}.", Bounds(0, 1)
    )
    warmup_steps: int = knob(
        20, "Linear warmup steps before cosine decay, in {range}.", Bounds(0, 1 << 31)
    )
    weight_decay: float = knob(0.01, "AdamW weight decay, in {range}.", Bounds(0, 10))
    grad_clip: float = knob(1.0, "Gradient norm clip, in {range}.", Bounds(0, 1e6))
    seed: int = seed_knob("Seed for initialisation and data order")
    eval_windows: int = knob(
        64, "Validation windows the cross-entropy is measured on, in {range}.", Bounds(1, 1 << 31)
    )
    loss_chunk: int = knob(4096, "Tokens per chunk of the loss, in {range}.", Bounds(1, 1 << 31))
    drift_tolerance: float = knob(
        DRIFT_TOLERANCE,
        "Publish the model only if its weights moved by more than this fraction, in {range}; "
        "0 for a deliberate smoke run of a few steps.",
        Bounds(0, 10),
    )
    divergence: str = knob(
        "forward_kl", "Teacher-student divergence; T^2 weighs all but tvd.",
        choices=DIVERGENCE_NAMES,
    )  # fmt: skip
    beta: float = knob(  # TRL's GKD default
        0.5, "jsd's mixture weight, in {range}: 0 = forward KL, 1 = reverse KL.", Bounds(0, 1)
    )
    skew: float = knob(  # DistiLLM's default
        0.1,
        "skew_kl's mixture weight a in {range}: KL(p || a p + (1 - a) q).",
        Bounds(0, 1, high_open=True),
    )
    tail: str = knob(
        "zero",
        "Top-k tail: probability 0, or one bucket of the teacher's remaining mass (T=1).",
        choices=TAIL_POLICIES,
        what="tail policy",
    )

    def __post_init__(self) -> None:
        check_knobs(self)
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

    lmbda: float = knob(
        1.0,
        "Probability, in {range}, that a micro-batch's continuations are the student's own "
        "samples (GKD's lambda): 1 = fully on-policy, 0 = the corpus continuations only.",
        Bounds(0, 1),
        what="lambda",
    )
    objective: str = knob(
        "full",
        "full: the divergence over the whole vocabulary at every continuation token; "
        "sampled: the sampled-token estimator of reverse KL (teacher log-probs of the samples).",
        choices=OBJECTIVES,
    )
    prompt_len: int = knob(
        32,
        "Prompt tokens taken from the corpus before each continuation, in {range}.",
        Bounds(1, 65536),
    )
    gen_len: int = knob(
        32,
        "Continuation tokens sampled (and scored) after each prompt, in {range}.",
        Bounds(1, 65536),
    )
    gen_temperature: float = knob(
        1.0, "Temperature the student samples at, in {range} (sampled needs 1).", Bounds(0, 100)
    )

    def __post_init__(self) -> None:
        check_knobs(self)
        _check(
            self.objective != "sampled" or self.gen_temperature == 1.0,
            "the sampled objective estimates KL(q || p) from samples of q itself: it needs "
            f"--gen-temperature 1, got {self.gen_temperature:g}",
        )

    @property
    def window(self) -> int:
        """Tokens a micro-batch row holds: the prompt and the corpus's continuation."""
        return self.prompt_len + self.gen_len


@dataclass(frozen=True, slots=True, kw_only=True)
class SampleConfig:
    """Sampling from a model: `distill generate`, and the samples `distill eval` scores."""

    max_new_tokens: int = knob(200, "Tokens to sample, in {range}.", Bounds(0, 1_000_000))
    temperature: float = knob(0.8, "Sampling temperature in {range}; 0 is greedy.", Bounds(0, 100))
    samples: int = knob(
        32,
        "Samples the teacher scores (validation prompts, one continuation each), in {range}.",
        Bounds(1, 1 << 20),
    )
    seed: int = seed_knob("Sampling seed")

    def __post_init__(self) -> None:
        check_knobs(self)


def as_dict(config: Any) -> dict[str, Any]:
    """The resolved config as plain JSON-able data (for manifests and checkpoints)."""
    return dataclasses.asdict(config)


@dataclass(frozen=True, slots=True, kw_only=True)
class Schedule:
    """Demo-scale defaults for a stage: `distill run` must finish in minutes on 2 CPU cores."""

    epochs: int
    steps_per_epoch: int
    lr: float
    drift_tolerance: float = DRIFT_TOLERANCE


TEACHER_SCHEDULE = Schedule(epochs=2, steps_per_epoch=450, lr=3e-3)
STUDENT_SCHEDULE = Schedule(epochs=3, steps_per_epoch=250, lr=3e-3)
# On-policy continues a trained student: a small learning rate (at 1e-3 the tiny student traded
# its corpus loss for the teacher's modes) and weights that move less than a fresh run's.
ONPOLICY_SCHEDULE = Schedule(epochs=1, steps_per_epoch=100, lr=1e-4, drift_tolerance=0.002)


@dataclass(frozen=True, slots=True, kw_only=True)
class Plan:
    """What `distill run` trains: model sizes and optimizer steps per epoch of each stage."""

    teacher_size: str = knob("small", f"Teacher size: {SIZE_CHOICES}.")
    student_size: str = knob("tiny", f"Student size: {SIZE_CHOICES}.")
    teacher_steps: int = knob(
        TEACHER_SCHEDULE.steps_per_epoch,
        "Optimizer steps per teacher epoch, in {range}.",
        Bounds(1, 1 << 31),
    )
    student_steps: int = knob(
        STUDENT_SCHEDULE.steps_per_epoch,
        "Optimizer steps per student epoch, in {range}.",
        Bounds(1, 1 << 31),
    )
    data: tuple[Path, ...] = ()  # a prepared store or raw files; () = the embedded corpus
    drift_tolerance: float = STUDENT_SCHEDULE.drift_tolerance
    on_policy: bool = False  # add the on-policy phase and the samples' column
    onpolicy_steps: int = knob(
        ONPOLICY_SCHEDULE.steps_per_epoch,
        "Optimizer steps of the on-policy phase, in {range}.",
        Bounds(1, 1 << 31),
    )

    def __post_init__(self) -> None:
        check_knobs(self)
