"""The one training loop, used for distillation (alpha > 0, teacher logits from the cache)
and for pretraining (alpha = 0, no cache). It never runs a teacher. Read it top to bottom:
schedule -> eval/checkpoint -> forward/accumulate -> clip/step -> log."""

from __future__ import annotations

import contextlib
import json
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn

from distill import durable
from distill import loss as kd
from distill.batches import Batches, epoch_order, to_device, val_windows
from distill.checkpoint import (
    CHECKPOINT,
    atomic_write_json,
    load_checkpoint,
    load_initial,
    rng_state,
    save_checkpoint,
    seed_generators,
    set_rng_state,
)
from distill.config import TrainConfig
from distill.distributed import World, local_slice, wrap
from distill.errors import CheckpointMismatchError, TrainingError
from distill.model import GPT, save_model
from distill.optim import count_updates, make_optimizer, make_scheduler, optimizer_sha
from distill.runs import WALL_CLOCK

METADATA = "metadata.json"
INITIAL = "initial_model.pt"
# metadata.json's figures of the clock, not of the inputs: kept out of the checkpoint (whose
# bytes depend on the inputs alone) and carried over from metadata.json on a resume
StepHook = Callable[[int, int, float, float], None]
# From this vocabulary up, our GPT's loss is fused with its head (distill.fused): the (B, T, V)
# logits are never built. Below it they are small and the plain chunked path is as fast.
FUSE_MIN_VOCAB = 4096


SUMS = 6  # per rank over an epoch: objective, kl, ce, tokens, teacher NLL of samples, sampled
POINTS = 200  # metadata's per-step loss log holds about this many points per run


class Objective(Protocol):
    """A loss other than the offline one (distill.onpolicy): per micro-batch, from its
    windows, the loss normalised by `normalizer`, and the teacher's summed NLL of the tokens
    the student sampled itself with their count (0, 0 where it sampled none)."""

    tokens_per_window: int  # the loss tokens of one window (the step's normaliser counts them)

    def __call__(
        self, net: nn.Module, x: torch.Tensor, y: torch.Tensor, *, step: int, micro: int,
        normalizer: int,
    ) -> tuple[kd.KDLoss, float, int]: ...  # fmt: skip

    def record(self) -> dict[str, Any]:
        """What metadata.json says about it, beside the config."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class Outcome:
    model_dir: Path
    metadata: dict[str, Any]


def optimizer_step(optimizer: torch.optim.Optimizer) -> None:
    """One parameter update (a seam: tests and mutants replace it)."""
    optimizer.step()


def student_loss(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    teacher: kd.Teacher,
    config: TrainConfig,
    *,
    alpha: float,
    temperature: float,
    normalizer: int | None = None,
) -> kd.KDLoss:
    """The student's forward and `kd.kd_loss`, fused with the head for our large-vocab GPT."""
    raw = getattr(model, "module", model)  # the GPT inside DDP
    # `head` is only passed when fused, so the seam's plain call shape stays the common one
    head: dict[str, torch.Tensor] = {}
    if isinstance(raw, GPT) and raw.vocab_size >= FUSE_MIN_VOCAB:
        head["head"] = raw.wte.weight
    # The loss runs under autocast too: the fused head's matmuls then use bf16 on CUDA like
    # any linear layer, while the loss itself casts to fp32 (a no-op context on CPU).
    with autocast(x.device):
        out = model(x, hidden=True) if head else model(x)
        return kd.kd_loss(
            out,
            y,
            teacher,
            alpha=alpha,
            temperature=temperature,
            normalizer=normalizer,
            chunk_size=config.loss_chunk,
            divergence=divergence_of(config),
            tail=config.tail,
            **head,
        )


def divergence_of(config: TrainConfig) -> kd.Divergence:
    """The divergence a config asks for (its parameters ride along unused where irrelevant)."""
    return kd.Divergence(name=config.divergence, beta=config.beta, skew=config.skew)


def divergence_record(config: TrainConfig) -> dict[str, Any]:
    """What metadata.json says about the divergence: its name, the parameters it uses, the tail."""
    div = divergence_of(config)
    return {"name": div.name, "params": div.params, "tail": config.tail}


@torch.no_grad()
def evaluate(
    model: nn.Module, batches: Batches, config: TrainConfig, device: torch.device
) -> float:
    """Mean cross-entropy per token on the first `eval_windows` validation windows."""
    model.eval()
    wins = val_windows(batches, config.eval_windows)
    total, count = 0.0, 0
    for a in range(0, len(wins), config.batch_size):
        x, y, _ = to_device((wins[a : a + config.batch_size], None, None, None), device)
        out = student_loss(model, x, y, None, config, alpha=0.0, temperature=1.0)
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


def autocast(device: torch.device) -> contextlib.AbstractContextManager[Any]:
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
    world: World | None = None,
    checkpoint_every: int = 0,
    objective: Objective | None = None,
) -> Outcome:
    """Train `model` on `batches`; checkpoint and append to metadata.json after each epoch,
    and checkpoint every `checkpoint_every` optimizer steps in between (0: epochs only). A
    resume from either kind ends with the bytes of an uninterrupted run; so does `resume` on a
    run killed before its first checkpoint, which starts it again.

    Under torchrun every rank takes an even share of each global micro-batch and DDP
    averages the gradients, so the update equals one process's on the whole batch; rank 0
    alone writes the checkpoint, metadata.json and the model.
    """
    world = world or World()
    per_step = config.batch_size * config.grad_accum
    steps_per_epoch = config.steps_per_epoch or max(batches.n_windows // per_step, 1)
    total_steps = steps_per_epoch * config.epochs
    # every window is full (no ignored targets); an objective counts its own loss tokens
    step_tokens = per_step * (objective.tokens_per_window if objective else batches.seq_len)
    log_every = max(total_steps // POINTS, 1)
    model.to(device).train()
    net = wrap(model, world, device)
    optimizer = make_optimizer(model, config)
    scheduler = make_scheduler(optimizer, config, total_steps)
    updates = count_updates(optimizer)
    ckpt_path, meta_path = out_dir / CHECKPOINT, out_dir / METADATA
    metadata: dict[str, Any] = {
        "config": run_config,
        "divergence": divergence_record(config),
        **(objective.record() if objective else {}),
        "epochs": [],
        "steps": [],  # [step, training loss] every `log_every` steps
    }
    step = 0
    sums = np.zeros(SUMS)  # this rank's, over the current epoch
    if resume and not ckpt_path.is_file() and (out_dir / INITIAL).is_file():
        resume = False  # killed before its first checkpoint: the run starts again, the same
    if resume:  # a damaged or foreign checkpoint is refused here, before anything is written
        state = load_checkpoint(ckpt_path, run_config)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        set_rng_state(state["rng"])
        step = state["step"]
        metadata = with_wall_clock(state["metadata"], meta_path)
        sums = epoch_sums(state, world, ckpt_path)
        initial = load_initial(out_dir / INITIAL)
    else:
        seed_generators(config.seed)
        initial = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    if world.main:  # first remove what killed runs left in this (locked) directory
        durable.sweep(out_dir, published=(model_subdir,))
        if not resume:
            save_checkpoint(out_dir / INITIAL, initial)
    saved_at = step  # the step the newest checkpoint holds (a resume starts from it)
    epoch_start = time.perf_counter()
    while True:
        # -- schedule: which windows this step reads (the scheduler holds its learning rate) --
        epoch, step_in_epoch = divmod(step, steps_per_epoch)

        # -- eval/checkpoint: at each epoch boundary (the state after `step` updates) --
        if step_in_epoch == 0 and step > 0 and sums[3] > 0:
            total = world.sum(sums.tolist())
            wall = time.perf_counter() - epoch_start
            tokens_seen = metadata["epochs"][-1]["tokens_seen"] if metadata["epochs"] else 0
            metadata["epochs"].append(
                {
                    "epoch": epoch,
                    "step": step,
                    "train_loss": total[0] / total[3],
                    "total_loss": total[0] / total[3],
                    "kl_loss": total[1] / total[3],
                    "ce_loss": total[2] / total[3],
                    "val_loss": evaluate(model, batches, config, device),
                    "lr": scheduler.get_last_lr()[0],
                    "optimizer_state_sha": optimizer_sha(optimizer),
                    "wall_seconds": wall,
                    "tokens_seen": tokens_seen + int(total[3]),
                    "tokens_per_second": total[3] / max(wall, 1e-9),
                    "processes": world.size,
                    **(_sample_record(total) if objective else {}),
                }
            )
            sums[:] = 0.0
            # checkpoint first: a kill between the two leaves a resumable run, whose
            # checkpoint carries the metadata that the resume writes again
            _checkpoint(
                ckpt_path, model, optimizer, scheduler, step, run_config, metadata, sums, world
            )
            if world.main:
                atomic_write_json(meta_path, metadata)
            world.barrier()  # no rank runs ahead of a checkpoint it might have to resume
            saved_at = step
            epoch_start = time.perf_counter()
        elif checkpoint_every and step % checkpoint_every == 0 and saved_at < step < total_steps:
            # a step checkpoint: everything a resume needs mid-epoch (the data position is the
            # step itself, the epoch's order being a function of seed and epoch)
            _checkpoint(
                ckpt_path, model, optimizer, scheduler, step, run_config, metadata, sums, world
            )
            world.barrier()
            saved_at = step
        if step >= total_steps:
            break

        # -- forward/accumulate: the loss is normalised by the whole step's token count --
        order = epoch_order(batches.n_windows, config.seed, epoch)
        micro = [
            batches.fetch(local_slice(idx, world))
            for idx in _micro_batches(order, step_in_epoch, config)
        ]
        step_loss = 0.0  # this rank's share of the step's loss
        for m, fetched in enumerate(micro):
            x, y, teacher = to_device(fetched, device)
            last = m == len(micro) - 1
            # DDP averages over ranks; each rank's share is scaled back up to a sum
            nll, sampled = 0.0, 0
            with _no_sync(net, world, last):
                if objective is None:
                    out = student_loss(
                        net,
                        x,
                        y,
                        teacher,
                        config,
                        alpha=config.alpha,
                        temperature=config.temperature,
                        normalizer=step_tokens,
                    )
                else:
                    out, nll, sampled = objective(
                        net, x, y, step=step, micro=m, normalizer=step_tokens
                    )
                if not world.all_true(bool(torch.isfinite(out.total))):
                    raise TrainingError(_non_finite(step, out.total, ckpt_path))
                (out.total * world.size if world.size > 1 else out.total).backward()  # type: ignore[no-untyped-call]
            step_loss += out.total.item()
            sums += (
                out.total.item() * step_tokens,
                out.kl * out.tokens,
                out.ce * out.tokens,
                out.tokens,
                nll,
                sampled,
            )

        # -- clip/step: the schedule advances only after a real update (see count_updates) --
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip or math.inf)
        if not torch.isfinite(norm):
            raise TrainingError(_non_finite(step, norm, ckpt_path, what="gradient norm"))
        before = updates[0]
        optimizer_step(optimizer)
        if updates[0] > before:
            scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        step += 1
        if step % log_every == 0 or step == total_steps:  # every rank: world.sum is collective
            metadata["steps"].append([step, world.sum([step_loss])[0]])

        # -- log --
        if on_step is not None:
            on_step(
                step,
                total_steps,
                sums[0] / max(sums[3], 1),
                sums[3] / max(time.perf_counter() - epoch_start, 1e-9),
            )

    return _finish(model, initial, metadata, config, out_dir / model_subdir, meta_path, world)


def _checkpoint(
    path: Path,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    step: int,
    run_config: dict[str, Any],
    metadata: dict[str, Any],
    sums: np.ndarray,
    world: World,
) -> None:
    """The state after `step` updates (rank 0 writes it; every rank's epoch sums ride along,
    so a resume mid-epoch adds up exactly what the uninterrupted run adds up)."""
    every_rank = world.gather(sums.tolist())
    if world.main:
        save_checkpoint(
            path,
            {
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "step": step,
                "rng": rng_state(),
                "config": run_config,
                "metadata": without_wall_clock(metadata),
                "sums": every_rank,
            },
        )


def _sample_record(total: list[float]) -> dict[str, Any]:
    """An objective's epoch figures: the teacher's mean NLL per token of what the student
    sampled itself (None when it sampled nothing), and the share of tokens it sampled."""
    nll, sampled, tokens = total[4], total[5], total[3]
    return {
        "teacher_nll_of_samples": nll / sampled if sampled else None,
        "on_policy_fraction": sampled / tokens,
    }


def epoch_sums(state: dict[str, Any], world: World, path: Path) -> np.ndarray:
    """This rank's running sums of the epoch a checkpoint was taken in."""
    saved = state.get("sums") or [[0.0] * SUMS] * world.size
    if len(saved) != world.size:
        raise CheckpointMismatchError(
            f"{path} was written by {len(saved)} process(es) mid-epoch; resume it with as many"
        )
    return np.array(saved[world.rank], dtype=np.float64)


def without_wall_clock(metadata: dict[str, Any]) -> dict[str, Any]:
    epochs = [{k: v for k, v in e.items() if k not in WALL_CLOCK} for e in metadata["epochs"]]
    return {**metadata, "epochs": epochs}


def with_wall_clock(metadata: dict[str, Any], path: Path) -> dict[str, Any]:
    """A checkpoint's metadata with the clock's figures of its epochs put back from the
    metadata.json the run wrote (where a killed run left one that says them). An epoch whose
    process was killed between its checkpoint and its metadata.json has none to put back:
    its figures are null, not measured, and every epoch record keeps the same keys."""
    try:
        written = json.loads(path.read_text(encoding="utf-8"))
        clock = {e["step"]: {k: e[k] for k in WALL_CLOCK if k in e} for e in written["epochs"]}
    except (OSError, ValueError, KeyError, TypeError):
        clock = {}
    unmeasured = dict.fromkeys(WALL_CLOCK)
    epochs = [{**e, **unmeasured, **clock.get(e["step"], {})} for e in metadata["epochs"]]
    return {**metadata, "epochs": epochs}


def _no_sync(net: nn.Module, world: World, last: bool) -> contextlib.AbstractContextManager[Any]:
    """Skip DDP's gradient all-reduce on all but the last micro-batch of a step."""
    if world.size > 1 and not last:
        sync: contextlib.AbstractContextManager[Any] = net.no_sync()  # type: ignore[operator]
        return sync
    return contextlib.nullcontext()


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
    world: World,
) -> Outcome:
    """Apply the drift gate; only a model whose weights moved past it is published (rank 0)."""
    change = relative_change(model, initial)
    passed = change > config.drift_tolerance
    metadata["drift_gate"] = {
        "relative_change": change,
        "tolerance": config.drift_tolerance,
        "passed": passed,
        "measure": "||w - w0|| / ||w0|| over all matrices and embeddings",
    }
    if world.main:
        atomic_write_json(meta_path, metadata)
        if passed:
            publish_model(model, model_dir)
    world.barrier()
    if not passed:
        ckpt = meta_path.with_name(CHECKPOINT)
        kept = f"only in {ckpt}" if ckpt.is_file() else "nowhere"
        raise TrainingError(
            f"drift gate failed: the trained model differs from its input by {change:.2%} "
            f"(<= {config.drift_tolerance * 100:.3g}%); it was not really trained, so {model_dir} "
            f"was not written (the rejected weights are {kept})"
        )
    return Outcome(model_dir=model_dir, metadata=metadata)


def publish_model(model: nn.Module, model_dir: Path) -> None:
    """Publish `model_dir` through a symlink swapped by one rename (distill.durable): a
    reader finds the old complete model or the new one, never none and never a half."""
    durable.publish_dir(model_dir, lambda stage: save_model(model.cpu(), stage))
