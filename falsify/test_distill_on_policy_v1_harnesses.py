"""The bounded harness of contracts/distill-on-policy-v1.yaml (its kani_harnesses): on models
small enough to enumerate every continuation (V = 3, 3 tokens: 27 sequences), the sampled
estimator's expectation is computed exactly, not sampled, and compared with the exact reverse
KL over sequences and its exact gradient."""

from __future__ import annotations

import itertools

import pytest
import torch

from distill import onpolicy
from distill.model import GPT, GPTConfig

BOUND = 3  # vocabulary and continuation length: 3^3 sequences
PROMPT = [0, 2]
TINY = GPTConfig(vocab_size=BOUND, n_layer=1, n_head=1, n_embd=4, block_size=8)


def _model(seed: int) -> GPT:
    torch.manual_seed(seed)
    net = GPT(TINY).double()
    with torch.no_grad():  # spread the logits: a near-uniform pair would hide a wrong weight
        net.wte.weight.mul_(40.0)
    return net


def _sequences() -> torch.Tensor:
    """(27, P + 3): the prompt followed by every continuation."""
    tails = torch.tensor(list(itertools.product(range(BOUND), repeat=BOUND)))
    return torch.cat([torch.tensor(PROMPT).expand(len(tails), -1), tails], dim=1)


def _log_probs(net: GPT, seq: torch.Tensor) -> torch.Tensor:
    """log q(continuation) per sequence, summed over its tokens (a graph through `net`)."""
    inputs, targets = onpolicy.loss_targets(seq, len(PROMPT))
    logp = torch.log_softmax(net(inputs), -1)
    keep = targets >= 0
    picked = logp.gather(-1, targets.clamp(min=0).unsqueeze(-1)).squeeze(-1)
    return torch.where(keep, picked, 0.0).sum(-1)


@pytest.mark.falsifies("KANI-DISTILL-ONPOLICY-001")
@pytest.mark.mutants(
    "estimator-immediate-cost", "estimator-cost-not-detached", "estimator-baseline-includes-own"
)
def test_kani_001_the_sampled_estimator_is_unbiased_within_bound_3() -> None:
    """Bound 3: E_q[estimate] = KL(q || p) and E_q[grad estimate] = grad KL(q || p), exactly
    (every sequence weighted by its probability), for two student/teacher pairs; on batches of
    one sample and of two (every ordered pair: the leave-one-out baseline at work)."""
    for student_seed, teacher_seed in ((0, 1), (2, 3)):
        student, teacher = _model(student_seed), _model(teacher_seed)
        seq = _sequences()
        inputs, targets = onpolicy.loss_targets(seq, len(PROMPT))
        log_q = _log_probs(student, seq)
        with torch.no_grad():
            log_p = _log_probs(teacher, seq)
        q = log_q.exp()
        assert float(q.sum().detach()) == pytest.approx(1.0, abs=1e-12)  # every sequence is here
        exact = (q * (log_q - log_p)).sum()
        exact_grad = torch.autograd.grad(exact, list(student.parameters()))
        scores = teacher(inputs).detach()
        for rows in (1, 2):
            # the estimator on each batch, as the loss computes it, weighted by its probability
            logits = student(inputs)
            weight = q.detach()
            estimate = torch.zeros((), dtype=torch.float64)
            for batch in itertools.product(range(len(seq)), repeat=rows):
                pick = list(batch)
                one = onpolicy.sampled_loss(
                    logits[pick], targets[pick], scores[pick], normalizer=rows
                )
                estimate = estimate + weight[pick].prod() * one.total
            want = float(exact.detach())
            assert float(estimate.detach()) == pytest.approx(want, rel=1e-10, abs=1e-12), rows
            got = torch.autograd.grad(estimate, list(student.parameters()))
            for g, w in zip(got, exact_grad, strict=True):
                assert torch.allclose(g, w, rtol=1e-8, atol=1e-11), (
                    rows,
                    float((g - w).abs().max()),
                )
