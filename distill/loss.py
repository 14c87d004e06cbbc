"""The distillation loss, computed in token chunks with fp32 accumulation so memory never
holds more than one chunk of (chunk, V) temporaries beyond the logits and their gradient.

    loss = alpha * T^2 * KL(softmax(t/T) || softmax(s/T)) + (1 - alpha) * CE(s, y)

summed over non-ignored tokens (targets != -100) and divided by their count, or by the
`normalizer` a caller passes (the token count of a whole optimizer step, which keeps
gradient accumulation exact). An all-masked batch gives 0, not NaN.

Teacher logits come full, (N, V), or as top-k, `TopK(ids, values)` (N, k). Tail policy for
top-k: the teacher distribution is softmax(values / T) over the k kept ids, renormalised;
every other id gets probability 0. The student's log-probabilities are over the whole
vocabulary, so the KL still pushes student mass off the tail. The reported `kl` is the true
KL per token at temperature T (0 when student == teacher), not the soft cross-entropy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch.nn import functional as F

from distill.errors import ConfigError

IGNORE_INDEX = -100


@dataclass(frozen=True, slots=True, kw_only=True)
class TopK:
    """Top-k teacher logits: ids (N, k) int64 and their logits (N, k)."""

    ids: torch.Tensor
    values: torch.Tensor


Teacher = torch.Tensor | TopK | None


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


def kd_loss(
    student_logits: torch.Tensor,
    targets: torch.Tensor,
    teacher: Teacher,
    *,
    alpha: float,
    temperature: float,
    normalizer: int | None = None,
    chunk_size: int = 4096,
) -> KDLoss:
    """Student logits (B, T, V) or (N, V); targets (B, T) or (N,); teacher as the logits."""
    if teacher is None and alpha != 0.0:
        raise ConfigError("alpha > 0 needs teacher logits (a cache); use alpha=0 to pretrain")
    if not 0.0 <= alpha <= 1.0:
        raise ConfigError(f"alpha must be in [0, 1], got {alpha:g}")
    if not temperature > 0.0:
        raise ConfigError(f"temperature must be > 0, got {temperature:g}")
    v = student_logits.shape[-1]
    logits, y = student_logits.reshape(-1, v), targets.reshape(-1)
    full = teacher.reshape(-1, v) if isinstance(teacher, torch.Tensor) else None
    ids = teacher.ids.reshape(len(y), -1) if isinstance(teacher, TopK) else None
    vals = teacher.values.reshape(len(y), -1) if isinstance(teacher, TopK) else None
    w_kl, w_ce = term_weights(alpha, temperature)
    sums: tuple[torch.Tensor, ...] = _ChunkedKD.apply(  # type: ignore[no-untyped-call]
        logits, y, full, ids, vals, w_kl, w_ce, temperature, chunk_size
    )
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
        w_kl: float,
        w_ce: float,
        temperature: float,
        chunk_size: int,
    ) -> tuple[torch.Tensor, ...]:
        sums = torch.zeros(4, dtype=torch.float64, device=logits.device)
        grad = torch.zeros_like(logits) if ctx.needs_input_grad[0] else None
        for a in range(0, logits.shape[0], chunk_size):
            b = min(a + chunk_size, logits.shape[0])
            teacher = (
                full[a:b]
                if full is not None
                else (ids[a:b], vals[a:b])
                if ids is not None and vals is not None
                else None
            )
            part, g = _chunk(
                logits[a:b], y[a:b], teacher, w_kl, w_ce, temperature, grad is not None
            )
            sums += part
            if grad is not None and g is not None:
                grad[a:b] = g.to(grad.dtype)
        ctx.save_for_backward(grad if grad is not None else torch.empty(0))
        total = (w_kl * sums[1] + w_ce * sums[2]).float()
        kl, ce, count = sums[1].float(), sums[2].float(), sums[3]
        ctx.mark_non_differentiable(kl, ce, count)
        return total, kl, ce, count

    @staticmethod
    def backward(ctx: Any, *grads: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        (grad,) = ctx.saved_tensors
        return (grad * grads[0].to(grad.dtype), *([None] * 8))


def _chunk(
    logits: torch.Tensor,
    y: torch.Tensor,
    teacher: torch.Tensor | tuple[torch.Tensor, torch.Tensor] | None,
    w_kl: float,
    w_ce: float,
    temperature: float,
    want_grad: bool,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Sums (unused, KL, CE, count) over one chunk in fp32, and d(total)/d(logits)."""
    s = logits.float()
    valid = y != IGNORE_INDEX
    yc = y.clamp_min(0).unsqueeze(1)
    log_q = F.log_softmax(s / temperature, dim=-1)
    p_dense: torch.Tensor | None = None
    kl_rows = torch.zeros(len(y), device=s.device)
    if isinstance(teacher, torch.Tensor):
        log_p = F.log_softmax(teacher.float() / temperature, dim=-1)
        p_dense = log_p.exp()
        kl_rows = (p_dense * (log_p - log_q)).sum(-1)
    elif teacher is not None:
        t_ids, t_vals = teacher
        log_pk = F.log_softmax(t_vals.float() / temperature, dim=-1)
        pk = log_pk.exp()
        kl_rows = (pk * (log_pk - log_q.gather(1, t_ids))).sum(-1)
        p_dense = torch.zeros_like(s).scatter_(1, t_ids, pk)
    log_p_student = F.log_softmax(s, dim=-1)
    ce_rows = -log_p_student.gather(1, yc).squeeze(1)
    zero = torch.zeros((), device=s.device)
    kl_sum = torch.where(valid, kl_rows, zero).sum(dtype=torch.float64)
    ce_sum = torch.where(valid, ce_rows, zero).sum(dtype=torch.float64)
    part = torch.stack([torch.zeros_like(kl_sum), kl_sum, ce_sum, valid.sum(dtype=torch.float64)])
    if not want_grad:
        return part, None
    g = log_p_student.exp_().mul_(w_ce)
    g.scatter_add_(1, yc, torch.full_like(yc, -w_ce, dtype=g.dtype))
    if p_dense is not None and w_kl != 0.0:
        g.add_((log_q.exp() - p_dense).mul_(w_kl / temperature))
    return part, g.mul_(valid.unsqueeze(1))
