"""On-policy distillation (GKD, Agarwal et al. 2024): the student learns from a live teacher on
sequences it samples itself, so it is taught in the states it will reach when it generates.

Per micro-batch of corpus windows (prompt, continuation), with probability lambda (drawn from
(seed, step, micro), the same on every rank) the continuation is replaced by the student's own
sample (seeded from (seed, step, micro, rank): the same ids in every process and on every
resume), then the frozen teacher scores the sequence and the loss is taken on the continuation
tokens only:

- objective `full`: alpha = 1 of distill.loss on every continuation position, the divergence
  of distill.divergence between the teacher and the student (reverse KL by default) over the
  whole vocabulary, through the chunked or fused kernels;
- objective `sampled`: the sampled-token estimator of the sequence's reverse KL(q || p), q the
  student: on the student's own sample x, r_t = log q(x_t) - log p(x_t) is a per-token cost,
  and the gradient of KL(q || p) is E_q[sum_s grad log q(x_s) * sum_{t >= s} r_t] (REINFORCE
  with costs-to-go; the causal structure drops the costs before s). It needs only the
  teacher's log-probabilities of the sampled tokens. The other rows' mean cost-to-go at the
  same position is subtracted as a baseline (leave-one-out, so still unbiased). Corpus
  continuations (the 1 - lambda share) are not the student's samples, so they take the full
  objective.

No gradient flows through sampling: the ids are drawn under no_grad and enter the loss as
data; the teacher is frozen (eval mode, no parameter requires grad) and scored under no_grad.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from distill import loss as kd
from distill import rollout
from distill import train as train_mod
from distill.config import OnPolicyConfig, TrainConfig, as_dict
from distill.kernel import IGNORE_INDEX, compute_dtype


def draw_seed(*parts: int) -> int:
    """A 63-bit seed from integers, the same in every process (no hash randomisation)."""
    digest = hashlib.sha256(",".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


def samples_this_micro(lmbda: float, seed: int, step: int, micro: int) -> bool:
    """Whether this micro-batch's continuations are the student's own: a draw with
    probability `lmbda` from (seed, step, micro), which every rank makes alike."""
    if lmbda >= 1.0:
        return True
    gen = torch.Generator().manual_seed(draw_seed(seed, step, micro, 1))
    return float(torch.rand((), generator=gen)) < lmbda


def freeze(teacher: nn.Module) -> nn.Module:
    """The teacher as the loss reads it: eval mode, no parameter that wants a gradient."""
    teacher.eval()
    for p in teacher.parameters():
        p.requires_grad_(False)
    return teacher


def teacher_logits(teacher: nn.Module, inputs: torch.Tensor) -> torch.Tensor:
    """The frozen teacher's logits (B, T, V), fp32, outside any graph."""
    with torch.no_grad():
        out: torch.Tensor = teacher(inputs)
    return out.to(compute_dtype(out))


def loss_targets(seq: torch.Tensor, prompt_len: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(inputs, targets) of a (B, P + G) sequence: targets are the next ids, ignored where
    they are prompt tokens, so the loss covers the G continuation tokens only."""
    targets = seq[:, 1:].clone()
    targets[:, : prompt_len - 1] = IGNORE_INDEX
    return seq[:, :-1], targets


def sampled_loss(
    student_logits: torch.Tensor,
    targets: torch.Tensor,
    teacher: torch.Tensor,
    *,
    normalizer: int,
) -> kd.KDLoss:
    """The sampled-token estimator of reverse KL(q || p) on the student's own samples, one
    per row (B, T).

    Its value is the estimate sum_t r_t / normalizer, r_t = log q(x_t) - log p(x_t); its
    gradient is sum_s grad log q(x_s) * (C_s - b_s) / normalizer, C_s = sum_{t >= s} r_t the
    cost-to-go and b_s the mean of the other rows' C_s (a leave-one-out baseline: the rows are
    independent samples, so it removes variance and no expectation), all detached: an
    unbiased estimate of the gradient of KL(q || p) over sequences. `kl` is the per-token
    estimate, `ce` the student's NLL of its own samples."""
    keep = targets != IGNORE_INDEX
    ids = targets.clamp(min=0).unsqueeze(-1)
    dtype = compute_dtype(student_logits)
    log_q = F.log_softmax(student_logits.to(dtype), dim=-1).gather(-1, ids).squeeze(-1)
    log_p = F.log_softmax(teacher.to(dtype), dim=-1).gather(-1, ids).squeeze(-1)
    cost = torch.where(keep, log_q - log_p, 0.0).detach()
    to_go = cost.flip(-1).cumsum(-1).flip(-1)  # sum over t >= s, per row
    rows = to_go.shape[0]
    if rows > 1:  # leave-one-out baseline: the other samples' mean at the same position
        to_go = to_go - (to_go.sum(0, keepdim=True) - to_go) / (rows - 1)
    surrogate = torch.where(keep, log_q * to_go, 0.0).sum()
    n = int(keep.sum())
    total = (cost.sum() + surrogate - surrogate.detach()) / max(normalizer, 1)
    return kd.KDLoss(
        total=total,
        kl=float(cost.sum()) / max(n, 1),
        ce=float(-torch.where(keep, log_q.detach(), 0.0).sum()) / max(n, 1),
        tokens=n,
    )


def teacher_nll(teacher: torch.Tensor, targets: torch.Tensor) -> tuple[float, int]:
    """The teacher's summed NLL of the non-ignored targets, and their count."""
    keep = targets != IGNORE_INDEX
    log_p = F.log_softmax(teacher.float(), dim=-1).gather(-1, targets.clamp(min=0).unsqueeze(-1))
    return float(-torch.where(keep, log_p.squeeze(-1), 0.0).sum()), int(keep.sum())


@dataclass(slots=True, kw_only=True)
class OnPolicy:
    """The training loop's objective for `distill onpolicy` (distill.train.Objective)."""

    teacher: nn.Module
    policy: OnPolicyConfig
    config: TrainConfig
    rank: int = 0
    last_sequence: torch.Tensor | None = field(default=None, repr=False)  # for the checks

    @property
    def tokens_per_window(self) -> int:
        return self.policy.gen_len

    def record(self) -> dict[str, Any]:
        return {"on_policy": as_dict(self.policy)}

    def continuation(self, net: nn.Module, x: torch.Tensor, *, step: int, micro: int) -> Any:
        """The continuation this micro-batch trains on, and whether the student sampled it."""
        p, g = self.policy.prompt_len, self.policy.gen_len
        if not samples_this_micro(self.policy.lmbda, self.config.seed, step, micro):
            return x[:, p : p + g], False
        gen = torch.Generator(device=x.device)
        gen.manual_seed(draw_seed(self.config.seed, step, micro, self.rank, 2))
        student = getattr(net, "module", net)  # the model inside DDP: sampling is no step
        ids = rollout.continue_ids(
            student, x[:, :p], steps=g, temperature=self.policy.gen_temperature, gen=gen
        )
        return ids, True

    def __call__(
        self, net: nn.Module, x: torch.Tensor, y: torch.Tensor, *, step: int, micro: int,
        normalizer: int,
    ) -> tuple[kd.KDLoss, float, int]:  # fmt: skip
        cont, sampled = self.continuation(net, x, step=step, micro=micro)
        seq = torch.cat([x[:, : self.policy.prompt_len], cont], dim=1)
        self.last_sequence = seq
        inputs, targets = loss_targets(seq, self.policy.prompt_len)
        scores = teacher_logits(self.teacher, inputs)
        if sampled and self.policy.objective == "sampled":
            with train_mod.autocast(inputs.device):
                out = sampled_loss(net(inputs), targets, scores, normalizer=normalizer)
        else:
            out = train_mod.student_loss(
                net,
                inputs,
                targets,
                scores,
                self.config,
                alpha=1.0,
                temperature=self.config.temperature,
                normalizer=normalizer,
            )
        nll, count = teacher_nll(scores, targets) if sampled else (0.0, 0)
        return out, nll, count


@dataclass(frozen=True, slots=True, kw_only=True)
class SampleScores:
    """Per token of a model's own samples: the teacher's NLL, the model's own NLL (its
    entropy, estimated) and their difference, the estimate of reverse KL(q || p)."""

    teacher_nll: float
    model_nll: float
    tokens: int

    @property
    def reverse_kl(self) -> float:
        return self.teacher_nll - self.model_nll


def score_samples(
    model: nn.Module,
    teacher: nn.Module,
    prompts: torch.Tensor,
    *,
    policy: OnPolicyConfig,
    seed: int,
    device: torch.device,
    batch: int = 16,
) -> SampleScores:
    """`model`'s own continuations of `prompts` (N, P), sampled at the policy's temperature
    from a generator seeded with `seed`, scored by the frozen teacher and by the model."""
    gen = torch.Generator(device=device).manual_seed(draw_seed(seed, 3))
    by_teacher, by_model, count = 0.0, 0.0, 0
    for a in range(0, len(prompts), batch):
        prompt = prompts[a : a + batch].to(device)
        cont = rollout.continue_ids(
            model, prompt, steps=policy.gen_len, temperature=policy.gen_temperature, gen=gen
        )
        inputs, targets = loss_targets(torch.cat([prompt, cont], dim=1), prompt.shape[1])
        nll, n = teacher_nll(teacher_logits(teacher, inputs), targets)
        own, _ = teacher_nll(teacher_logits(model, inputs), targets)
        by_teacher, by_model, count = by_teacher + nll, by_model + own, count + n
    return SampleScores(
        teacher_nll=by_teacher / max(count, 1), model_nll=by_model / max(count, 1), tokens=count
    )
