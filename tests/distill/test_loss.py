"""The KD loss against hand-computed values and the plain (unchunked, autograd) formula."""

from __future__ import annotations

import math

import pytest
import torch
from torch.nn import functional as F

from distill.errors import ConfigError
from distill.loss import IGNORE_INDEX, TopK, kd_loss


def plain_kd(
    s: torch.Tensor, y: torch.Tensor, t: torch.Tensor, alpha: float, T: float
) -> torch.Tensor:
    """The formula written the obvious way, for comparison."""
    valid = y != IGNORE_INDEX
    log_q = F.log_softmax(s / T, dim=-1)
    p = F.softmax(t / T, dim=-1)
    kl = (p * (p.log() - log_q)).sum(-1)[valid].sum()
    ce = F.cross_entropy(s, y, reduction="sum", ignore_index=IGNORE_INDEX)
    return (alpha * T * T * kl + (1 - alpha) * ce) / valid.sum().clamp_min(1)


def random_case(n: int = 23, v: int = 13, seed: int = 0) -> tuple[torch.Tensor, ...]:
    gen = torch.Generator().manual_seed(seed)
    s = torch.randn(n, v, generator=gen) * 2
    t = torch.randn(n, v, generator=gen) * 2
    y = torch.randint(0, v, (n,), generator=gen)
    y[::5] = IGNORE_INDEX
    return s, t, y


def test_loss_matches_a_hand_computed_two_token_example() -> None:
    s = torch.tensor([[0.0, 0.0], [math.log(3.0), 0.0]])
    t = torch.tensor([[math.log(3.0), 0.0], [0.0, 0.0]])
    y = torch.tensor([0, 1])
    out = kd_loss(s, y, t, alpha=0.5, temperature=1.0)
    # token 0: p=(3/4,1/4), q=(1/2,1/2): KL = 3/4 ln(3/2) + 1/4 ln(1/2); CE = ln 2
    # token 1: p=(1/2,1/2), q=(3/4,1/4): KL = 1/2 ln(2/3) + 1/2 ln 2;    CE = ln 4
    kl = 0.75 * math.log(1.5) + 0.25 * math.log(0.5) + 0.5 * math.log(2 / 3) + 0.5 * math.log(2)
    ce = math.log(2) + math.log(4)
    assert out.total.item() == pytest.approx((0.5 * kl + 0.5 * ce) / 2, rel=1e-6)
    assert out.kl == pytest.approx(kl / 2, rel=1e-6)
    assert out.ce == pytest.approx(ce / 2, rel=1e-6)
    assert out.tokens == 2


def test_temperature_squared_scales_the_kl_term() -> None:
    s, t, y = random_case()
    out = kd_loss(s, y, t, alpha=1.0, temperature=3.0)
    assert out.total.item() == pytest.approx(9.0 * out.kl, rel=1e-6)


def test_alpha_one_is_exactly_the_kl_term_and_alpha_zero_exactly_ce() -> None:
    s, t, y = random_case()
    only_kl = kd_loss(s, y, t, alpha=1.0, temperature=2.0)
    only_ce = kd_loss(s, y, t, alpha=0.0, temperature=2.0)
    ce = F.cross_entropy(s, y, ignore_index=IGNORE_INDEX)
    assert only_kl.total.item() == pytest.approx(4.0 * only_kl.kl, rel=1e-6)
    assert only_ce.total.item() == pytest.approx(ce.item(), rel=1e-6)
    assert only_kl.total.item() != pytest.approx(only_ce.total.item(), rel=1e-3)


@pytest.mark.parametrize("chunk", [1, 4, 7, 1000])
def test_chunked_loss_equals_the_plain_formula_in_value_and_gradient(chunk: int) -> None:
    s, t, y = random_case()
    s1 = s.clone().requires_grad_()
    s2 = s.clone().requires_grad_()
    out = kd_loss(s1, y, t, alpha=0.7, temperature=2.5, chunk_size=chunk)
    ref = plain_kd(s2, y, t, 0.7, 2.5)
    out.total.backward()
    ref.backward()
    assert out.total.item() == pytest.approx(ref.item(), rel=1e-6)
    assert s1.grad is not None
    assert s2.grad is not None
    torch.testing.assert_close(s1.grad, s2.grad, rtol=1e-6, atol=1e-8)


def test_kl_of_a_distribution_with_itself_is_zero() -> None:
    s, _, y = random_case()
    out = kd_loss(s, y, s.clone(), alpha=1.0, temperature=2.0)
    assert out.kl == pytest.approx(0.0, abs=1e-6)
    assert out.total.item() == pytest.approx(0.0, abs=1e-5)


def test_an_all_masked_batch_gives_zero_loss_and_zero_gradient() -> None:
    s, t, _ = random_case()
    s = s.requires_grad_()
    y = torch.full((s.shape[0],), IGNORE_INDEX)
    out = kd_loss(s, y, t, alpha=0.5, temperature=2.0)
    out.total.backward()
    assert out.total.item() == 0.0
    assert not math.isnan(out.kl)
    assert out.tokens == 0
    assert s.grad is not None
    assert torch.count_nonzero(s.grad) == 0


def test_top_k_renormalises_the_teacher_over_the_kept_ids() -> None:
    s, t, y = random_case()
    k = 4
    values, ids = torch.sort(t, dim=-1, descending=True, stable=True)
    masked = torch.full_like(t, -torch.inf).scatter(1, ids[:, :k], values[:, :k])
    s1 = s.clone().requires_grad_()
    s2 = s.clone().requires_grad_()
    out = kd_loss(s1, y, TopK(ids=ids[:, :k], values=values[:, :k]), alpha=0.6, temperature=2.0)
    # the policy, written out: teacher probability 0 outside the top k
    valid = y != IGNORE_INDEX
    p = F.softmax(masked / 2.0, dim=-1)
    log_q = F.log_softmax(s2 / 2.0, dim=-1)
    kl = torch.where(p > 0, p * (p.log() - log_q), 0.0).sum(-1)[valid].sum()
    ce = F.cross_entropy(s2, y, reduction="sum", ignore_index=IGNORE_INDEX)
    ref = (0.6 * 4.0 * kl + 0.4 * ce) / valid.sum()
    out.total.backward()
    ref.backward()
    assert out.total.item() == pytest.approx(ref.item(), rel=1e-6)
    assert s1.grad is not None
    assert s2.grad is not None
    torch.testing.assert_close(s1.grad, s2.grad, rtol=1e-5, atol=1e-7)


def test_top_k_with_every_id_equals_full_logits() -> None:
    s, t, y = random_case()
    ids = torch.arange(t.shape[1]).expand_as(t)
    full = kd_loss(s, y, t, alpha=0.8, temperature=1.5)
    topk = kd_loss(s, y, TopK(ids=ids, values=t), alpha=0.8, temperature=1.5)
    assert topk.total.item() == pytest.approx(full.total.item(), rel=1e-6)


def test_accumulated_halves_give_the_same_gradient_as_one_batch() -> None:
    s, t, y = random_case(n=24)
    whole = s.clone().requires_grad_()
    kd_loss(whole, y, t, alpha=0.7, temperature=2.0).total.backward()
    halves = s.clone().requires_grad_()
    n_tokens = int((y != IGNORE_INDEX).sum())
    for part in (slice(0, 9), slice(9, 24)):  # uneven split, different masked counts
        out = kd_loss(
            halves[part], y[part], t[part], alpha=0.7, temperature=2.0, normalizer=n_tokens
        )
        out.total.backward()
    assert whole.grad is not None
    assert halves.grad is not None
    torch.testing.assert_close(halves.grad, whole.grad, rtol=1e-6, atol=1e-8)


def test_three_dimensional_logits_are_flattened_like_two_dimensional_ones() -> None:
    s, t, y = random_case(n=24)
    flat = kd_loss(s, y, t, alpha=0.5, temperature=2.0)
    batched = kd_loss(s.view(4, 6, -1), y.view(4, 6), t.view(4, 6, -1), alpha=0.5, temperature=2.0)
    assert batched.total.item() == flat.total.item()


def test_alpha_above_zero_without_teacher_logits_is_refused() -> None:
    s, _, y = random_case()
    with pytest.raises(ConfigError, match="needs teacher logits"):
        kd_loss(s, y, None, alpha=0.5, temperature=2.0)
