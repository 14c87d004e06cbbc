"""The bounded harnesses of contracts/distill-divergences-v1.yaml (its kani_harnesses): every
pair of distributions on a grid, not a random sample, run through the divergence table the
engine uses (`Divergence.rows`) and bound to the harness ids like falsification ids."""

from __future__ import annotations

import math

import pytest
import torch

from distill.divergence import Divergence

BOUND = 8  # probabilities k/8 with k >= 1 over 3 categories: 21 distributions, 441 pairs
KINDS = (
    Divergence(name="forward_kl"),
    Divergence(name="reverse_kl"),
    Divergence(name="jsd", beta=0.1),
    Divergence(name="jsd", beta=0.5),
    Divergence(name="jsd", beta=0.9),
    Divergence(name="skew_kl", skew=0.1),
    Divergence(name="skew_kl", skew=0.5),
    Divergence(name="tvd"),
)


def _pairs() -> tuple[torch.Tensor, torch.Tensor]:
    """(p, q), each (441, 3) float64: every ordered pair of grid distributions."""
    grid = torch.tensor(
        [(a, b, BOUND - a - b) for a in range(1, BOUND) for b in range(1, BOUND - a)],
        dtype=torch.float64,
    ).div(BOUND)
    i, j = torch.meshgrid(torch.arange(len(grid)), torch.arange(len(grid)), indexing="ij")
    return grid[i.reshape(-1)], grid[j.reshape(-1)]


def _kl(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    return (p * (p / q).log()).sum(-1)


def definition(d: Divergence, p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """Each divergence as its equation in the contract states it, per row."""
    if d.name == "forward_kl":
        return _kl(p, q)
    if d.name == "reverse_kl":
        return _kl(q, p)
    if d.name == "jsd":
        m = d.beta * p + (1 - d.beta) * q
        return d.beta * _kl(p, m) + (1 - d.beta) * _kl(q, m)
    if d.name == "skew_kl":
        return _kl(p, d.skew * p + (1 - d.skew) * q)
    return 0.5 * (p - q).abs().sum(-1)


@pytest.mark.falsifies("KANI-DISTILL-DIV-001")
@pytest.mark.mutants(
    "forward-reverse-swapped",
    "jsd-beta-inverted",
    "tvd-missing-half",
    "skew-mixture-on-wrong-side",
)
def test_kani_001_every_divergence_is_its_equation_and_a_divergence_within_bound_8() -> None:
    """Bound 8: on every pair, D equals its definition, D >= 0, and D = 0 exactly when p = q."""
    p, q = _pairs()
    same = (p == q).all(-1)
    for d in KINDS:
        value = d.rows(p.log(), q.log())[0]
        assert torch.allclose(value, definition(d, p, q), rtol=1e-10, atol=1e-13), d
        assert bool((value[same].abs() < 1e-13).all()), d
        assert bool((value[~same] > 0).all()), d


@pytest.mark.falsifies("KANI-DISTILL-DIV-002")
@pytest.mark.mutants("forward-reverse-swapped", "jsd-beta-inverted", "tvd-missing-half")
def test_kani_002_bounds_symmetry_and_the_ends_of_beta_within_bound_8() -> None:
    """Bound 8: on every pair, JSD at beta = 0.5 is symmetric and below ln 2, TVD is in
    [0, 1], and JSD at beta = 0 and 1 is exactly forward and reverse KL."""
    p, q = _pairs()
    lp, lq = p.log(), q.log()
    half = Divergence(name="jsd", beta=0.5)
    jsd_pq, jsd_qp = half.rows(lp, lq)[0], half.rows(lq, lp)[0]
    assert torch.allclose(jsd_pq, jsd_qp, rtol=1e-12, atol=1e-15)
    assert bool((jsd_pq < math.log(2)).all())
    tvd = Divergence(name="tvd").rows(lp, lq)[0]
    assert bool(((tvd >= 0) & (tvd <= 1)).all())
    assert float(tvd.max()) == pytest.approx(5 / 8)  # (6,1,1)/8 against (1,1,6)/8
    for beta, end in ((0.0, "forward_kl"), (1.0, "reverse_kl")):
        at_end = Divergence(name="jsd", beta=beta).rows(lp, lq)[0]
        assert torch.equal(at_end, Divergence(name=end).rows(lp, lq)[0]), beta
        assert torch.allclose(at_end, definition(Divergence(name=end), p, q), rtol=1e-10)
