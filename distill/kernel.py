"""One chunk of the distillation loss and its exact gradient, shared by the chunked path
(distill.loss) and the fused one (distill.fused): both import it, neither imports the other
for it. Also the teacher distributions the loss uses, with the top-k tail policy."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import torch
from torch.nn import functional as F

from distill import divergence as dv
from distill.errors import ConfigError

IGNORE_INDEX = -100
TAIL_FLOOR_LOG = math.log1p(-1e-7)  # the bucket's teacher mass is at least 1e-7


@dataclass(frozen=True, slots=True, kw_only=True)
class TopK:
    """Top-k teacher logits: ids (N, k) int64, their logits (N, k) and, where the cache stores
    it, the logsumexp of the teacher's full logits (N,) at T = 1 (what the bucket tail needs)."""

    ids: torch.Tensor
    values: torch.Tensor
    lse: torch.Tensor | None = None


Teacher = torch.Tensor | TopK | None
# a chunk's teacher rows: full (rows, V), or (ids, values, lse or None) over the top k
ChunkTeacher = torch.Tensor | tuple[torch.Tensor, torch.Tensor, torch.Tensor | None] | None


@dataclass(frozen=True, slots=True, kw_only=True)
class ChunkSpec:
    """What every chunk needs besides its rows: the term weights, T, the row count, the
    divergence and the tail policy of a top-k teacher."""

    w_kl: float
    w_ce: float
    temperature: float
    rows: int
    divergence: dv.Divergence = field(default_factory=dv.Divergence)
    tail: str = "zero"


@dataclass(frozen=True, slots=True, kw_only=True)
class TeacherDist:
    """The teacher distribution the loss compares with: log_p (rows, C) sums to 1 per row.

    ids None: dense over the vocabulary (C = V). Otherwise ids (rows, k) name the vocabulary
    ids of the first k categories; with `bucket` one last category holds all mass outside
    them, else that mass is 0 (tail zero)."""

    log_p: torch.Tensor
    ids: torch.Tensor | None = None
    bucket: bool = False


def teacher_rows(
    full: torch.Tensor | None,
    ids: torch.Tensor | None,
    vals: torch.Tensor | None,
    lse: torch.Tensor | None,
    a: int,
    b: int,
) -> ChunkTeacher:
    """The teacher's rows a:b in the form `chunk` takes."""
    if full is not None:
        return full[a:b]
    if ids is not None and vals is not None:
        return ids[a:b], vals[a:b], (lse[a:b] if lse is not None else None)
    return None


def teacher_dist(teacher: ChunkTeacher, spec: ChunkSpec, dtype: torch.dtype) -> TeacherDist | None:
    """The teacher distribution at temperature T under the tail policy.

    full: softmax(t / T) over V. top-k, tail zero: softmax(t_k / T) over the k ids, 0
    elsewhere. top-k, tail bucket (T = 1): the k ids get exp(t_k - lse) and one more category
    the rest, 1 - sum_k exp(t_k - lse), renormalised so fp16 rounding of t_k cannot push the
    sum past 1.
    """
    t_ = spec.temperature
    if isinstance(teacher, torch.Tensor):
        return TeacherDist(log_p=F.log_softmax(teacher.to(dtype) / t_, dim=-1))
    if teacher is None:
        return None
    t_ids, t_vals, lse = teacher
    if spec.tail != "bucket":
        return TeacherDist(log_p=F.log_softmax(t_vals.to(dtype) / t_, dim=-1), ids=t_ids)
    if lse is None:
        raise ConfigError("tail bucket needs the teacher's per-token logsumexp (the cache's lse)")
    log_pk = t_vals.to(dtype) - lse.to(dtype).unsqueeze(1)
    # 1 - sum_k p_k is known to ~1e-7 at best (fp16 values, an fp32 lse): below that it is
    # rounding, not mass, and a tail of exactly 0 would make reverse KL infinite
    kept = torch.logsumexp(log_pk, dim=-1, keepdim=True).clamp_max(TAIL_FLOOR_LOG)
    log_tail = torch.log(-torch.expm1(kept))  # log(1 - sum_k p_k)
    return TeacherDist(
        log_p=F.log_softmax(torch.cat([log_pk, log_tail], dim=-1), dim=-1), ids=t_ids, bucket=True
    )


def finish_sums(
    ctx: Any, sums: torch.Tensor, dtype: torch.dtype, spec: ChunkSpec
) -> tuple[torch.Tensor, ...]:
    """(differentiable total, divergence sum, ce sum, count) from the float64 chunk sums."""
    total = (spec.w_kl * sums[1] + spec.w_ce * sums[2]).to(dtype)
    kl, ce, count = sums[1].to(dtype), sums[2].to(dtype), sums[3]
    ctx.mark_non_differentiable(kl, ce, count)
    return total, kl, ce, count


def compute_dtype(x: torch.Tensor) -> torch.dtype:
    """fp32 for the loss whatever the activations are; fp64 kept (gradcheck runs in it)."""
    return torch.float64 if x.dtype == torch.float64 else torch.float32


def chunk(
    logits: torch.Tensor, y: torch.Tensor, teacher: ChunkTeacher, spec: ChunkSpec, want_grad: bool
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Sums (unused, D, CE, count) over one chunk in fp32, and d(total)/d(logits) in fp32.

    With q = softmax(s/T) and h = q * dD/dq from the divergence,
    d(total)/ds = w_ce * (softmax(s) - onehot(y)) + (w_kl / T) * (h - q * sum(h)),
    zero on ignored rows. Forward KL against a full or tail-zero teacher takes a sparse path
    (h = -p) that reuses buffers in place: at T=1 log-softmax is computed once for both terms.
    """
    s = logits.to(compute_dtype(logits))
    t_ = spec.temperature
    valid = y != IGNORE_INDEX
    yc = y.clamp_min(0).unsqueeze(1)
    log_p_student = F.log_softmax(s, dim=-1)
    same = t_ == 1.0 or teacher is None
    log_q = log_p_student if same else F.log_softmax(s / t_, dim=-1)
    ce_rows = -log_p_student.gather(1, yc).squeeze(1)
    dist = teacher_dist(teacher, spec, s.dtype)
    fast = dist is None or (not dist.bucket and _is_forward_kl(spec.divergence))
    if fast:
        div_rows, p_teacher = _kl_rows(log_q, dist)
        d_z: torch.Tensor | None = None
    else:
        assert dist is not None
        div_rows, d_z = _divergence_rows(log_q, dist, spec.divergence, want_grad)
    zero = torch.zeros((), device=s.device, dtype=s.dtype)
    div_sum = torch.where(valid, div_rows, zero).sum(dtype=torch.float64)
    ce_sum = torch.where(valid, ce_rows, zero).sum(dtype=torch.float64)
    part = torch.stack([torch.zeros_like(div_sum), div_sum, ce_sum, valid.sum(dtype=torch.float64)])
    if not want_grad:
        return part, None
    w_t = spec.w_kl / t_ if dist is not None else 0.0
    if fast and log_q is log_p_student:  # T=1: softmax(s) serves both terms
        g = log_p_student.exp_().mul_(spec.w_ce + w_t)
    else:
        g = log_p_student.exp_().mul_(spec.w_ce)
        if fast and w_t != 0.0:
            g.add_(log_q.exp_(), alpha=w_t)
    g.scatter_add_(1, yc, torch.full_like(yc, -spec.w_ce, dtype=g.dtype))
    if d_z is not None:
        g.add_(d_z, alpha=w_t)
    elif w_t != 0.0 and isinstance(p_teacher, torch.Tensor):
        g.sub_(p_teacher, alpha=w_t)
    elif w_t != 0.0 and p_teacher is not None:
        t_ids, pk = p_teacher
        g.scatter_add_(1, t_ids, pk.mul(-w_t))
    if g.is_cuda or not bool(valid.all()):  # on a GPU the check would cost a host sync
        g.mul_(valid.unsqueeze(1))
    return part, g


def _is_forward_kl(div: dv.Divergence) -> bool:
    """Looked up in the table at call time, so a swapped table reaches both paths."""
    return dv.DIVERGENCES[div.name] is dv.forward_rows


def _kl_rows(
    log_q: torch.Tensor, dist: TeacherDist | None
) -> tuple[torch.Tensor, torch.Tensor | tuple[torch.Tensor, torch.Tensor] | None]:
    """Per-row KL(p || q) and the teacher probabilities (dense, or (ids, p) over the top k)."""
    if dist is None:
        return torch.zeros(log_q.shape[0], device=log_q.device, dtype=log_q.dtype), None
    log_p = dist.log_p
    p = log_p.exp()
    if dist.ids is None:
        return torch.linalg.vecdot(p, log_p.sub_(log_q)), p
    return (p * (log_p - log_q.gather(1, dist.ids))).sum(-1), (dist.ids, p)


def _divergence_rows(
    log_q: torch.Tensor, dist: TeacherDist, div: dv.Divergence, want_grad: bool
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """D per row and dD/dz (rows, V) for z = s / T, through the divergence's h."""
    if not dist.bucket:
        log_p = dist.log_p
        if dist.ids is not None:  # tail zero: the top-k distribution spread over V
            dense = torch.full_like(log_q, -torch.inf)
            log_p = dense.scatter_(1, dist.ids, log_p)
        values, h = div.rows(log_p, log_q)
        if not want_grad:
            return values, None
        return values, h.sub_(log_q.exp() * h.sum(-1, keepdim=True))
    assert dist.ids is not None
    kept = log_q.gather(1, dist.ids)
    outside = log_q.scatter(1, dist.ids, -torch.inf)
    log_tail = torch.logsumexp(outside, dim=-1, keepdim=True)
    log_p = dist.log_p
    if log_p.shape[1] > log_q.shape[1]:  # k = V: no tail, whatever fp16 rounding left in it
        log_p = F.log_softmax(log_p[:, :-1], dim=-1)
        log_p = torch.cat([log_p, torch.full_like(log_tail, -torch.inf)], dim=-1)
    values, h = div.rows(log_p, torch.cat([kept, log_tail], dim=-1))
    if not want_grad:
        return values, None
    # dD/dz_j = q_j (g_c(j) - <Q, g>), g = h / Q per category: q_j / Q_tail off the top k
    share = torch.where(outside > -torch.inf, (outside - log_tail).exp(), 0.0)
    d_z = share.mul_(h[:, -1:]).scatter_(1, dist.ids, h[:, :-1])
    return values, d_z.sub_(log_q.exp() * h.sum(-1, keepdim=True))
