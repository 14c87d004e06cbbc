"""The KD loss fused with the output projection: the plain formula's value and gradients
(w.r.t. the hidden states and the head) within 1e-6 relative in fp32, logits never built."""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from distill.loss import IGNORE_INDEX, TopK, chunk_rows, kd_loss
from distill.model import GPT, GPTConfig


def plain(h: torch.Tensor, w: torch.Tensor, y: torch.Tensor, t: torch.Tensor,
          alpha: float, temp: float) -> torch.Tensor:  # fmt: skip
    """log_softmax + kl_div + cross_entropy on the full logits, the obvious way."""
    s = h @ w.T
    valid = y != IGNORE_INDEX
    log_q = F.log_softmax(s / temp, dim=-1)
    log_p = F.log_softmax(t / temp, dim=-1)
    kl = F.kl_div(log_q[valid], log_p[valid], log_target=True, reduction="sum")
    ce = F.cross_entropy(s, y, reduction="sum", ignore_index=IGNORE_INDEX)
    return (alpha * temp * temp * kl + (1 - alpha) * ce) / valid.sum().clamp_min(1)


def case(n: int = 29, c: int = 8, v: int = 40) -> tuple[torch.Tensor, ...]:
    gen = torch.Generator().manual_seed(3)
    h = torch.randn(n, c, generator=gen)
    w = torch.randn(v, c, generator=gen) * 0.5
    t = torch.randn(n, v, generator=gen) * 2
    y = torch.randint(0, v, (n,), generator=gen)
    y[::6] = IGNORE_INDEX
    return h, w, t, y


def assert_rel(a: torch.Tensor, b: torch.Tensor, rel: float) -> None:
    assert float((a - b).abs().max()) <= rel * float(b.abs().max())


@pytest.mark.parametrize(("chunk", "temp"), [(1, 1.0), (5, 2.5), (1000, 1.0), (7, 0.5)])
def test_fused_loss_equals_the_plain_formula_in_value_and_both_gradients(
    chunk: int, temp: float
) -> None:
    h, w, t, y = case()
    h1, w1 = h.clone().requires_grad_(), w.clone().requires_grad_()
    h2, w2 = h.clone().requires_grad_(), w.clone().requires_grad_()
    out = kd_loss(h1, y, t, alpha=0.7, temperature=temp, chunk_size=chunk, head=w1)
    ref = plain(h2, w2, y, t, 0.7, temp)
    out.total.backward()
    ref.backward()
    assert out.total.item() == pytest.approx(ref.item(), rel=1e-6)
    assert h1.grad is not None
    assert h2.grad is not None
    assert w1.grad is not None
    assert w2.grad is not None
    assert_rel(h1.grad, h2.grad, 1e-6)
    assert_rel(w1.grad, w2.grad, 1e-6)


def test_fused_loss_with_top_k_equals_the_chunked_loss_on_the_full_logits() -> None:
    h, w, t, y = case()
    values, ids = torch.topk(t, 6)
    teacher = TopK(ids=ids, values=values)
    h1, w1 = h.clone().requires_grad_(), w.clone().requires_grad_()
    s = (h @ w.T).requires_grad_()
    fused = kd_loss(h1, y, teacher, alpha=0.6, temperature=2.0, chunk_size=4, head=w1)
    chunked = kd_loss(s, y, teacher, alpha=0.6, temperature=2.0)
    fused.total.backward()
    chunked.total.backward()
    assert fused.total.item() == pytest.approx(chunked.total.item(), rel=1e-6)
    assert fused.kl == pytest.approx(chunked.kl, rel=1e-6)
    assert s.grad is not None
    assert h1.grad is not None
    assert_rel(h1.grad, s.grad @ w, 1e-5)


def test_the_gpt_hidden_states_times_its_head_are_its_logits() -> None:
    torch.manual_seed(0)
    net = GPT(GPTConfig(vocab_size=50, n_layer=1, n_head=2, n_embd=16, block_size=8))
    x = torch.randint(0, 50, (2, 8))
    torch.testing.assert_close(net(x, hidden=True) @ net.wte.weight.T, net(x))


def test_a_chunk_never_holds_more_than_the_element_budget_whatever_was_asked() -> None:
    assert chunk_rows(4096, 256) == 4096
    assert chunk_rows(4096, 128256) * 128256 <= 1 << 22
    assert chunk_rows(4096, 1 << 30) == 1


def test_a_second_backward_through_the_chunked_loss_is_refused_not_wrong() -> None:
    h, w, t, y = case()
    s = (h @ w.T).requires_grad_()
    out = kd_loss(s, y, t, alpha=0.5, temperature=1.0)
    out.total.backward(retain_graph=True)
    with pytest.raises(RuntimeError, match="one backward pass"):
        out.total.backward()


@pytest.mark.cuda
def test_fused_loss_under_bf16_autocast_on_cuda_is_close_to_fp32() -> None:
    if not torch.cuda.is_available():
        pytest.skip("needs CUDA")
    h, w, t, y = (z.cuda() for z in case(n=256, c=64, v=1000))
    h1 = h.clone().requires_grad_()
    with torch.autocast("cuda", dtype=torch.bfloat16):
        out = kd_loss(h1, y, t, alpha=0.7, temperature=2.0, chunk_size=64, head=w)
    ref = kd_loss(h, y, t, alpha=0.7, temperature=2.0, head=w)
    out.total.backward()
    assert out.total.item() == pytest.approx(ref.total.item(), rel=2e-2)
    assert h1.grad is not None
    assert h1.grad.dtype == torch.float32


def _grads(loss: torch.Tensor, *xs: torch.Tensor) -> tuple[torch.Tensor, ...]:
    return torch.autograd.grad(loss, xs)


def test_a_frozen_body_still_trains_the_head() -> None:
    """Only the head wants a gradient (the hidden states come from a frozen body)."""
    h, w, t, y = case()
    head, ref_head = w.clone().requires_grad_(), w.clone().requires_grad_()
    out = kd_loss(h, y, t, alpha=0.5, temperature=2.0, head=head)
    ref = plain(h, ref_head, y, t, 0.5, 2.0)
    (got,) = _grads(out.total, head)
    (want,) = _grads(ref, ref_head)
    assert_rel(got, want, 1e-5)


def test_in_float64_both_gradients_accumulate_in_float64() -> None:
    """The head's gradient sums over every chunk: in float64 it must agree with autograd to
    float64 precision, which an float32 accumulator misses by ~1e-7."""
    h, w, t, y = (x.double() if x.is_floating_point() else x for x in case(n=300, v=64))
    hidden, head = h.clone().requires_grad_(), w.clone().requires_grad_()
    ref_h, ref_w = h.clone().requires_grad_(), w.clone().requires_grad_()
    out = kd_loss(hidden, y, t, alpha=0.5, temperature=2.0, head=head, chunk_size=7)
    ref = plain(ref_h, ref_w, y, t, 0.5, 2.0)
    assert out.total.dtype == torch.float64
    for got, want in zip(_grads(out.total, hidden, head), _grads(ref, ref_h, ref_w), strict=True):
        torch.testing.assert_close(got, want, rtol=1e-11, atol=1e-13)


def test_the_fused_loss_comes_back_in_float32_for_float32_and_bfloat16_inputs() -> None:
    h, w, t, y = case()
    assert kd_loss(h, y, t, alpha=0.5, temperature=2.0, head=w).total.dtype == torch.float32
    out = kd_loss(h.bfloat16(), y, t, alpha=0.5, temperature=2.0, head=w.bfloat16())
    assert out.total.dtype == torch.float32


def test_in_bfloat16_one_chunk_gives_exactly_the_unfused_gradients() -> None:
    """One chunk, no autocast, a sum (normalizer 1, so no scale is rounded in between): the
    fused matmuls are the ones autograd runs through the linear layer, in bf16 on the bf16
    gradient of the loss, so the bits agree."""
    h, w, t, y = case()
    hidden, head = h.bfloat16().requires_grad_(), w.bfloat16().requires_grad_()
    ref_h, ref_w = h.bfloat16().requires_grad_(), w.bfloat16().requires_grad_()
    out = kd_loss(hidden, y, t, alpha=0.5, temperature=2.0, head=head, normalizer=1)
    ref = kd_loss(F.linear(ref_h, ref_w), y, t, alpha=0.5, temperature=2.0, normalizer=1)
    assert out.total.item() == ref.total.item()
    got_both = _grads(out.total, hidden, head)
    for got, want in zip(got_both, _grads(ref.total, ref_h, ref_w), strict=True):
        assert got.dtype == torch.bfloat16
        assert torch.equal(got, want)
