"""The divergences a student can be distilled with, each a pure function of two log-distributions
over the same categories. Each returns the per-row value D(p, q) and h = q * dD/dq (up to a
multiple of q), from which the kernels build the exact gradient without autograd's copies."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from distill.config import TrainConfig, check_value

# (values (N,), h (N, C)): D(p, q) per row, and q * dD/dq
Rows = tuple[torch.Tensor, torch.Tensor]


def _xlog(x: torch.Tensor, log_y: torch.Tensor) -> torch.Tensor:
    """x * log_y with 0 * log(anything) = 0 (the convention every divergence here uses)."""
    return torch.where(x > 0, x * log_y, torch.zeros((), dtype=x.dtype, device=x.device))


def forward_kl(log_p: torch.Tensor, log_q: torch.Tensor) -> Rows:
    """KL(p || q) = sum_c p_c (log p_c - log q_c): mass-covering (Hinton et al. 2015).

    log_p: teacher (N, C); log_q: student (N, C). h = -p, so dD/dz = q - p for q = softmax(z).
    """
    p = log_p.exp()
    return (_xlog(p, log_p) - _xlog(p, log_q)).sum(-1), -p


def reverse_kl(log_p: torch.Tensor, log_q: torch.Tensor) -> Rows:
    """KL(q || p) = sum_c q_c (log q_c - log p_c): mode-seeking (MiniLLM, Gu et al. 2024).

    Infinite where the teacher gives 0 to a category the student does not (a top-k teacher
    with tail zero). h = q (log q - log p), so dD/dz = q (log q - log p - D).
    """
    q = log_q.exp()
    h = _xlog(q, log_q - log_p)
    return h.sum(-1), h


def jsd(log_p: torch.Tensor, log_q: torch.Tensor, beta: float) -> Rows:
    """Generalised Jensen-Shannon (GKD, Agarwal et al. 2024), with m = beta p + (1 - beta) q:

        JSD_beta(p, q) = beta KL(p || m) + (1 - beta) KL(q || m),   h = (1 - beta) q log(q / m).

    The ends follow TRL's GKD loss: beta = 0 is KL(p || q) and beta = 1 is KL(q || p) (the
    interior tends to beta KL(p || q) as beta -> 0). Symmetric at beta = 0.5, <= ln 2 there.
    """
    if beta == 0.0:
        return forward_kl(log_p, log_q)
    if beta == 1.0:
        return reverse_kl(log_p, log_q)
    log_m = torch.logaddexp(log_p + math.log(beta), log_q + math.log1p(-beta))
    p, q = log_p.exp(), log_q.exp()
    h = (1.0 - beta) * _xlog(q, log_q - log_m)
    return beta * _xlog(p, log_p - log_m).sum(-1) + h.sum(-1), h


def skew_kl(log_p: torch.Tensor, log_q: torch.Tensor, skew: float) -> Rows:
    """Skew KL (DistiLLM, Ko et al. 2024): the teacher against a student mixed with it,

        SKL_a(p, q) = KL(p || a p + (1 - a) q),   h = -(1 - a) p q / m.

    a = skew in [0, 1): a = 0 is KL(p || q); the mixture keeps it finite where q -> 0.
    """
    log_m = torch.logaddexp(log_p + _log(skew), log_q + math.log1p(-skew))
    p = log_p.exp()
    h = -(1.0 - skew) * p * (log_q - log_m).exp()
    return _xlog(p, log_p - log_m).sum(-1), h


def tvd(log_p: torch.Tensor, log_q: torch.Tensor) -> Rows:
    """Total variation distance TVD(p, q) = 1/2 sum_c |p_c - q_c|, in [0, 1].

    h = q sign(q - p) / 2 (a subgradient where p_c = q_c).
    """
    p, q = log_p.exp(), log_q.exp()
    diff = q - p
    return 0.5 * diff.abs().sum(-1), 0.5 * q * diff.sign()


def _log(x: float) -> float:
    return math.log(x) if x > 0.0 else -math.inf


@dataclass(frozen=True, slots=True, kw_only=True)
class Divergence:
    """A divergence and its parameter: beta for jsd, skew for skew_kl (the others ignore them).

    Temperature: every divergence compares softmax(z_t / T) with softmax(z_s / T). The KL
    family (forward_kl, reverse_kl, jsd, skew_kl) is weighted by T^2, which keeps its gradient
    magnitude comparable across T (Hinton et al.); tvd is a bounded distance, not nats, and
    is weighted by 1.
    """

    name: str = "forward_kl"
    beta: float = 0.5
    skew: float = 0.1

    def __post_init__(self) -> None:
        # the ranges and names of TrainConfig's knobs: one declaration for both
        check_value(TrainConfig, "divergence", self.name)
        check_value(TrainConfig, "beta", self.beta)
        check_value(TrainConfig, "skew", self.skew)

    @property
    def t_squared(self) -> bool:
        """Whether the T^2 factor applies (the KL family)."""
        return self.name != "tvd"

    @property
    def needs_support(self) -> bool:
        """Infinite wherever the teacher gives 0 and the student does not (KL(q || p))."""
        return self.name == "reverse_kl" or (self.name == "jsd" and self.beta == 1.0)

    @property
    def params(self) -> dict[str, float]:
        """The parameters this divergence uses, for metadata."""
        return {"jsd": {"beta": self.beta}, "skew_kl": {"skew": self.skew}}.get(self.name, {})

    def rows(self, log_p: torch.Tensor, log_q: torch.Tensor) -> Rows:
        """D(p, q) per row and h, through the table (looked up at call time: a seam)."""
        return DIVERGENCES[self.name](log_p, log_q, self)


def forward_rows(log_p: torch.Tensor, log_q: torch.Tensor, _: Divergence) -> Rows:
    """forward_kl in the table's shape; the kernels take a sparse fast path only for this one."""
    return forward_kl(log_p, log_q)


DIVERGENCES: dict[str, Callable[[torch.Tensor, torch.Tensor, Divergence], Rows]] = {
    "forward_kl": forward_rows,
    "reverse_kl": lambda lp, lq, d: reverse_kl(lp, lq),
    "jsd": lambda lp, lq, d: jsd(lp, lq, d.beta),
    "skew_kl": lambda lp, lq, d: skew_kl(lp, lq, d.skew),
    "tvd": lambda lp, lq, d: tvd(lp, lq),
}
