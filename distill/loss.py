"""The distillation loss, computed in token chunks with fp32 accumulation; each chunk's
gradient is computed during the forward, so memory holds at most one chunk of (rows, V)
temporaries beyond the logits and their gradient (distill.fused removes those two as well).

    loss = alpha * w_T * D(softmax(t/T), softmax(s/T)) + (1 - alpha) * CE(s, y)

summed over non-ignored tokens (targets != -100) and divided by their count, or by the
`normalizer` a caller passes (the token count of a whole optimizer step, which keeps
gradient accumulation exact). An all-masked batch gives 0, not NaN. D is a divergence of
distill.divergence (forward KL by default; reverse KL, generalised JSD, skew KL, TVD) and
w_T = T^2 for the KL family, 1 for TVD.

Teacher logits come full, (N, V), or as top-k, `TopK(ids, values, lse)` (N, k). Tail policy
for top-k: `zero` (the teacher distribution is softmax(values / T) over the k kept ids,
renormalised; every other id gets probability 0; the student's log-probabilities are over the
whole vocabulary, so forward KL still pushes student mass off the tail), or `bucket` (the
teacher's mass outside its top k, from the full logsumexp, is matched against the student's
mass outside the same ids as one more category; T = 1 only, since the cache's logsumexp is
at T = 1). The reported `kl` is the divergence per token at temperature T (0 when student ==
teacher), not the soft cross-entropy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from distill import fused
from distill.config import TrainConfig, check_value
from distill.divergence import Divergence
from distill.errors import ConfigError
from distill.kernel import (
    IGNORE_INDEX,
    ChunkSpec,
    Teacher,
    TopK,
    chunk,
    compute_dtype,
    finish_sums,
    teacher_rows,
)

__all__ = ["IGNORE_INDEX", "Divergence", "KDLoss", "Teacher", "TopK", "kd_loss"]

# A chunk holds at most this many logits (16 MiB per fp32 temporary), whatever `chunk_size`
# asks for: at V=128256 a 4096-row chunk would need ~2 GiB per temporary. Bigger chunks
# buy no speed on CPU; smaller ones keep the temporaries small beside the (N, V) gradient.
CHUNK_ELEMENTS = 1 << 22
# On a GPU each chunk costs ~20 kernel launches, so chunks are bigger there (256 MiB each).
CUDA_CHUNK_ELEMENTS = 1 << 26


@dataclass(frozen=True, slots=True, kw_only=True)
class KDLoss:
    """`total` is differentiable; the rest are per-token means for logging."""

    total: torch.Tensor
    kl: float
    ce: float
    tokens: int


def term_weights(alpha: float, temperature: float) -> tuple[float, float]:
    """(weight of the KL sum, weight of the CE sum): alpha * T^2 and 1 - alpha."""
    return alpha * temperature * temperature, 1.0 - alpha


def chunk_rows(chunk_size: int, vocab: int, device: torch.device | None = None) -> int:
    """Rows per chunk: `chunk_size`, capped so one (rows, V) temporary stays bounded."""
    budget = CUDA_CHUNK_ELEMENTS if device is not None and device.type == "cuda" else None
    return max(1, min(chunk_size, (budget or CHUNK_ELEMENTS) // max(vocab, 1)))


def kd_loss(
    student_logits: torch.Tensor,
    targets: torch.Tensor,
    teacher: Teacher,
    *,
    alpha: float,
    temperature: float,
    normalizer: int | None = None,
    chunk_size: int = 4096,
    head: torch.Tensor | None = None,
    divergence: Divergence | None = None,
    tail: str = "zero",
) -> KDLoss:
    """Student logits (B, T, V) or (N, V); targets (B, T) or (N,); teacher as the logits.

    With `head` (V, C), the first argument is instead the student's final hidden states
    (B, T, C) or (N, C) and its logits are `hidden @ head.T`, built one chunk at a time
    (distill.fused), so the (N, V) logits never exist. `divergence` defaults to forward KL;
    `tail` ("zero" or "bucket") applies to a top-k teacher.
    """
    div = divergence or Divergence()
    _check_args(teacher, alpha, temperature, div, tail)
    v = student_logits.shape[-1] if head is None else head.shape[0]
    y = targets.reshape(-1)
    x = student_logits.reshape(len(y), -1)
    full = teacher.reshape(-1, v) if isinstance(teacher, torch.Tensor) else None
    top = teacher if isinstance(teacher, TopK) else None
    ids = top.ids.reshape(len(y), -1) if top is not None else None
    vals = top.values.reshape(len(y), -1) if top is not None else None
    lse = top.lse.reshape(len(y)) if top is not None and top.lse is not None else None
    # T^2 is the KL family's gradient-scale correction; TVD is weighted by alpha alone
    w_kl, w_ce = term_weights(alpha, temperature if div.t_squared else 1.0)
    spec = ChunkSpec(
        w_kl=w_kl,
        w_ce=w_ce,
        temperature=temperature,
        rows=chunk_rows(chunk_size, v, x.device),
        divergence=div,
        tail=tail,
    )
    if head is None:
        sums = _ChunkedKD.apply(x, y, full, ids, vals, lse, spec)  # type: ignore[no-untyped-call]
    else:
        sums = fused.FusedKD.apply(x, head, y, full, ids, vals, lse, spec)  # type: ignore[no-untyped-call]
    return _per_token(sums, normalizer)


def _check_args(
    teacher: Teacher, alpha: float, temperature: float, div: Divergence, tail: str
) -> None:
    if teacher is None and alpha != 0.0:
        raise ConfigError("alpha > 0 needs teacher logits (a cache); use alpha=0 to pretrain")
    check_value(TrainConfig, "alpha", alpha)
    check_value(TrainConfig, "temperature", temperature)
    check_tail(tail, temperature)
    if not isinstance(teacher, TopK):
        return
    if tail == "zero" and div.needs_support:
        raise ConfigError(
            f"{div.name} is infinite against a top-k teacher with tail zero (the teacher gives "
            "the tail probability 0): use --tail bucket, a full-logit cache or another divergence"
        )
    if tail == "bucket" and teacher.lse is None:
        raise ConfigError("tail bucket needs the teacher's per-token logsumexp (the cache's lse)")


def check_tail(tail: str, temperature: float) -> None:
    """The tail policy on its own: a known name, and bucket only at T = 1."""
    check_value(TrainConfig, "tail", tail)
    if tail == "bucket" and temperature != 1.0:
        raise ConfigError(
            "tail bucket needs temperature 1 (the cache's logsumexp is at T=1), "
            f"got {temperature:g}"
        )


def _per_token(sums: tuple[torch.Tensor, ...], normalizer: int | None) -> KDLoss:
    """The loss from the chunk sums: total over `normalizer` (default: the token count)."""
    total_sum, kl_sum, ce_sum, count = sums
    n = int(count.item())
    denominator = max(normalizer if normalizer is not None else n, 1)
    return KDLoss(
        total=total_sum / denominator,
        kl=float(kl_sum) / max(n, 1),
        ce=float(ce_sum) / max(n, 1),
        tokens=n,
    )


class _ChunkedKD(torch.autograd.Function):
    """Forward computes each chunk's value and its gradient at once; backward only scales."""

    @staticmethod
    def forward(
        ctx: Any,
        logits: torch.Tensor,
        y: torch.Tensor,
        full: torch.Tensor | None,
        ids: torch.Tensor | None,
        vals: torch.Tensor | None,
        lse: torch.Tensor | None,
        spec: ChunkSpec,
    ) -> tuple[torch.Tensor, ...]:
        sums = torch.zeros(4, dtype=torch.float64, device=logits.device)
        grad = torch.empty_like(logits) if ctx.needs_input_grad[0] else None
        for a in range(0, logits.shape[0], spec.rows):
            b = min(a + spec.rows, logits.shape[0])
            teacher = teacher_rows(full, ids, vals, lse, a, b)
            part, g = chunk(logits[a:b], y[a:b], teacher, spec, grad is not None)
            sums += part
            if grad is not None and g is not None:
                grad[a:b] = g
        ctx.save_for_backward(grad if grad is not None else torch.empty(0))
        ctx.checking = logits.dtype == torch.float64
        return finish_sums(ctx, sums, compute_dtype(logits), spec)

    @staticmethod
    def backward(ctx: Any, *grads: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        # Scaled in place: a second copy of (N, V) is what this class exists to avoid.
        # The engine backpropagates each loss once; a second pass would see a used buffer.
        # float64 is the checking precision (gradcheck backpropagates twice), so it copies.
        if ctx.checking:
            return (ctx.saved_tensors[0] * grads[0], *([None] * 6))
        if getattr(ctx, "used", False):
            raise RuntimeError("kd_loss supports one backward pass per forward")
        ctx.used = True
        (grad,) = ctx.saved_tensors
        return (grad.mul_(grads[0].to(grad.dtype)), *([None] * 6))
