"""The distillation loss, computed in token chunks with fp32 accumulation; each chunk's
gradient is computed during the forward, so memory holds at most one chunk of (rows, V)
temporaries beyond the logits and their gradient (distill.fused removes those two as well).

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
# A chunk holds at most this many logits (16 MiB per fp32 temporary), whatever `chunk_size`
# asks for: at V=128256 a 4096-row chunk would need ~2 GiB per temporary. Bigger chunks
# were not faster on CPU; smaller ones keep the temporaries a few % of the (N, V) gradient.
CHUNK_ELEMENTS = 1 << 22
# On a GPU each chunk costs ~20 kernel launches, so chunks are bigger there (256 MiB each).
CUDA_CHUNK_ELEMENTS = 1 << 26


@dataclass(frozen=True, slots=True, kw_only=True)
class TopK:
    """Top-k teacher logits: ids (N, k) int64 and their logits (N, k)."""

    ids: torch.Tensor
    values: torch.Tensor


Teacher = torch.Tensor | TopK | None
ChunkTeacher = torch.Tensor | tuple[torch.Tensor, torch.Tensor] | None


@dataclass(frozen=True, slots=True, kw_only=True)
class KDLoss:
    """`total` is differentiable; the rest are per-token means for logging."""

    total: torch.Tensor
    kl: float
    ce: float
    tokens: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ChunkSpec:
    """What every chunk needs besides its rows: the term weights, T and the row count."""

    w_kl: float
    w_ce: float
    temperature: float
    rows: int


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
) -> KDLoss:
    """Student logits (B, T, V) or (N, V); targets (B, T) or (N,); teacher as the logits.

    With `head` (V, C), the first argument is instead the student's final hidden states
    (B, T, C) or (N, C) and its logits are `hidden @ head.T`, built one chunk at a time
    (distill.fused), so the (N, V) logits never exist.
    """
    _check_args(teacher, alpha, temperature)
    v = student_logits.shape[-1] if head is None else head.shape[0]
    y = targets.reshape(-1)
    x = student_logits.reshape(len(y), -1)
    full = teacher.reshape(-1, v) if isinstance(teacher, torch.Tensor) else None
    ids = teacher.ids.reshape(len(y), -1) if isinstance(teacher, TopK) else None
    vals = teacher.values.reshape(len(y), -1) if isinstance(teacher, TopK) else None
    w_kl, w_ce = term_weights(alpha, temperature)
    spec = ChunkSpec(
        w_kl=w_kl, w_ce=w_ce, temperature=temperature, rows=chunk_rows(chunk_size, v, x.device)
    )
    if head is None:
        sums = _ChunkedKD.apply(x, y, full, ids, vals, spec)  # type: ignore[no-untyped-call]
    else:
        from distill.fused import FusedKD

        sums = FusedKD.apply(x, head, y, full, ids, vals, spec)  # type: ignore[no-untyped-call]
    return _per_token(sums, normalizer)


def _check_args(teacher: Teacher, alpha: float, temperature: float) -> None:
    if teacher is None and alpha != 0.0:
        raise ConfigError("alpha > 0 needs teacher logits (a cache); use alpha=0 to pretrain")
    if not 0.0 <= alpha <= 1.0:
        raise ConfigError(f"alpha must be in [0, 1], got {alpha:g}")
    if not temperature > 0.0:
        raise ConfigError(f"temperature must be > 0, got {temperature:g}")


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


def teacher_rows(
    full: torch.Tensor | None, ids: torch.Tensor | None, vals: torch.Tensor | None, a: int, b: int
) -> ChunkTeacher:
    """The teacher's rows a:b in the form `chunk` takes."""
    if full is not None:
        return full[a:b]
    if ids is not None and vals is not None:
        return ids[a:b], vals[a:b]
    return None


def finish_sums(ctx: Any, sums: torch.Tensor, spec: ChunkSpec) -> tuple[torch.Tensor, ...]:
    """(differentiable total, kl sum, ce sum, count) from the float64 chunk sums."""
    total = (spec.w_kl * sums[1] + spec.w_ce * sums[2]).float()
    kl, ce, count = sums[1].float(), sums[2].float(), sums[3]
    ctx.mark_non_differentiable(kl, ce, count)
    return total, kl, ce, count


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
        spec: ChunkSpec,
    ) -> tuple[torch.Tensor, ...]:
        sums = torch.zeros(4, dtype=torch.float64, device=logits.device)
        grad = torch.empty_like(logits) if ctx.needs_input_grad[0] else None
        for a in range(0, logits.shape[0], spec.rows):
            b = min(a + spec.rows, logits.shape[0])
            teacher = teacher_rows(full, ids, vals, a, b)
            part, g = chunk(logits[a:b], y[a:b], teacher, spec, grad is not None)
            sums += part
            if grad is not None and g is not None:
                grad[a:b] = g
        ctx.save_for_backward(grad if grad is not None else torch.empty(0))
        return finish_sums(ctx, sums, spec)

    @staticmethod
    def backward(ctx: Any, *grads: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        # Scaled in place: a second copy of (N, V) is what this class exists to avoid.
        # The engine backpropagates each loss once; a second pass would see a used buffer.
        if getattr(ctx, "used", False):
            raise RuntimeError("kd_loss supports one backward pass per forward")
        ctx.used = True
        (grad,) = ctx.saved_tensors
        return (grad.mul_(grads[0].to(grad.dtype)), *([None] * 5))


def chunk(
    logits: torch.Tensor, y: torch.Tensor, teacher: ChunkTeacher, spec: ChunkSpec, want_grad: bool
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Sums (unused, KL, CE, count) over one chunk in fp32, and d(total)/d(logits) in fp32.

    d(total)/ds = w_ce * (softmax(s) - onehot(y)) + (w_kl / T) * (softmax(s/T) - p_teacher),
    zero on ignored rows. Buffers are reused in place: at T=1 the student's log-softmax is
    computed once for both terms.
    """
    s = logits.float()
    t_ = spec.temperature
    valid = y != IGNORE_INDEX
    yc = y.clamp_min(0).unsqueeze(1)
    log_p_student = F.log_softmax(s, dim=-1)
    same = t_ == 1.0 or teacher is None
    log_q = log_p_student if same else F.log_softmax(s / t_, dim=-1)
    ce_rows = -log_p_student.gather(1, yc).squeeze(1)
    kl_rows, p_teacher = _kl_rows(log_q, teacher, t_)
    zero = torch.zeros((), device=s.device)
    kl_sum = torch.where(valid, kl_rows, zero).sum(dtype=torch.float64)
    ce_sum = torch.where(valid, ce_rows, zero).sum(dtype=torch.float64)
    part = torch.stack([torch.zeros_like(kl_sum), kl_sum, ce_sum, valid.sum(dtype=torch.float64)])
    if not want_grad:
        return part, None
    w_t = spec.w_kl / t_ if teacher is not None else 0.0
    if log_q is log_p_student:  # T=1: softmax(s) serves both terms
        g = log_p_student.exp_().mul_(spec.w_ce + w_t)
    else:
        g = log_p_student.exp_().mul_(spec.w_ce)
        if w_t != 0.0:
            g.add_(log_q.exp_(), alpha=w_t)
    g.scatter_add_(1, yc, torch.full_like(yc, -spec.w_ce, dtype=g.dtype))
    if w_t != 0.0 and isinstance(p_teacher, torch.Tensor):
        g.sub_(p_teacher, alpha=w_t)
    elif w_t != 0.0 and p_teacher is not None:
        t_ids, pk = p_teacher
        g.scatter_add_(1, t_ids, pk.mul(-w_t))
    if g.is_cuda or not bool(valid.all()):  # on a GPU the check would cost a host sync
        g.mul_(valid.unsqueeze(1))
    return part, g


def _kl_rows(
    log_q: torch.Tensor, teacher: ChunkTeacher, temperature: float
) -> tuple[torch.Tensor, ChunkTeacher]:
    """Per-row KL(p || q) and the teacher probabilities (dense, or (ids, p) over the top k)."""
    if isinstance(teacher, torch.Tensor):
        log_p = F.log_softmax(teacher.float() / temperature, dim=-1)
        p = log_p.exp()
        return torch.linalg.vecdot(p, log_p.sub_(log_q)), p
    if teacher is not None:
        t_ids, t_vals = teacher
        log_pk = F.log_softmax(t_vals.float() / temperature, dim=-1)
        pk = log_pk.exp()
        return (pk * (log_pk - log_q.gather(1, t_ids))).sum(-1), (t_ids, pk)
    return torch.zeros(log_q.shape[0], device=log_q.device), None
