"""The bounded harnesses of contracts/apr-cli-distill-train-v1.yaml (its kani_harnesses), as
exhaustive enumerations of every case inside the bound, run against the engine's loss and
cache seams and bound to the harness ids like falsification ids."""

from __future__ import annotations

import pytest
import torch

from distill import cache, loss
from falsify.probes import engine_teacher_ranking

# The contract's temperatures {0.5, 1, 2, 4, 8} and the usual KD settings {1, 2, 3, 5, 10}
TEMPERATURES = (0.5, 1.0, 2.0, 3.0, 4.0, 5.0, 8.0, 10.0)

# Every logit vector over this grid: exact ties, and gaps from 0.5 to 2.5 (fp32 keeps every
# softmax ratio distinct at T <= 10, so a wrong ranking cannot hide in round-off).
GRID = (-1.0, 0.0, 0.5, 1.5)


def _all_vectors(width: int) -> torch.Tensor:
    """Every vector in GRID^width, (len(GRID)^width, width)."""
    axes = [torch.tensor(GRID)] * width
    return torch.cartesian_prod(*axes).reshape(-1, width)


@pytest.mark.falsifies("KANI-APR-DISTILL-TRAIN-001")
@pytest.mark.mutants("top-k-ties-highest-id-first")
def test_kani_001_temperature_scaling_preserves_ranking_within_bound_8() -> None:
    """Bound 8: every vocabulary size 1..8, every logit vector over GRID (87,380 vectors),
    every T in TEMPERATURES. For each pair (i, j): z_i > z_j iff p_i > p_j and z_i = z_j iff
    p_i = p_j, for the engine's softmax(z/T); and the cache's top-k, for every k, keeps the
    first k ids of that order, ties by lowest id (also where a tie straddles the k-th place)."""
    for width in range(1, 9):
        z = _all_vectors(width)
        above = z.unsqueeze(2) > z.unsqueeze(1)
        tied = z.unsqueeze(2) == z.unsqueeze(1)
        order = _stable_descending(z)
        for temperature in TEMPERATURES:
            p = engine_teacher_ranking(z, temperature)
            assert torch.equal(p.unsqueeze(2) > p.unsqueeze(1), above), (width, temperature)
            assert torch.equal(p.unsqueeze(2) == p.unsqueeze(1), tied), (width, temperature)
            for k in range(1, width + 1):
                ids, _ = cache.top_k(z / temperature, k)
                assert torch.equal(ids, order[:, :k]), (width, temperature, k)


def _stable_descending(z: torch.Tensor) -> torch.Tensor:
    """Reference order: by value descending, equal values by id ascending (a plain sort key)."""
    rows = [sorted(range(len(r)), key=lambda i, r=r: (-r[i], i)) for r in z.tolist()]
    return torch.tensor(rows, dtype=torch.long)


@pytest.mark.falsifies("KANI-APR-DISTILL-TRAIN-002")
@pytest.mark.mutants("alpha-swapped")
def test_kani_002_alpha_zero_equals_pure_pretraining_within_bound_4() -> None:
    """Bound 4: vocabularies of 2..4 ids and 1..4 tokens. Per token (the loss is a sum over
    tokens): every student row over GRID x every label (or ignored) x every teacher row, full
    or top-2. Per sequence: every label vector of up to 4 tokens (ignored ones included).
    alpha = 0 must give exactly CE, its gradient, and no trace of the teacher."""
    for vocab in range(2, 5):
        _per_token_cases(vocab)
        _per_sequence_cases(vocab)


def _per_token_cases(vocab: int) -> None:
    rows = _all_vectors(vocab)
    labels = torch.arange(-1, vocab).masked_fill(torch.arange(-1, vocab) < 0, loss.IGNORE_INDEX)
    # the cross product rows x labels x teacher rows, as one flat batch of tokens
    s_idx, y_idx, t_idx = torch.cartesian_prod(
        torch.arange(len(rows)), torch.arange(len(labels)), torch.arange(len(rows))
    ).unbind(1)
    student, targets, teacher = rows[s_idx], labels[y_idx], rows[t_idx]
    top = cache.top_k(teacher, 2)
    results = [
        _alpha_zero(student, targets, t, temperature)
        for t in (None, teacher, loss.TopK(ids=top[0], values=top[1]))
        for temperature in (0.5, 1.0, 4.0)
    ]
    reference = _cross_entropy(student, targets)
    for total, grad in results:
        assert float(total) == pytest.approx(float(reference[0]), rel=1e-6, abs=1e-9), vocab
        torch.testing.assert_close(grad, reference[1], rtol=1e-5, atol=1e-8)
        assert torch.equal(total, results[0][0])
        assert torch.equal(grad, results[0][1])


def _per_sequence_cases(vocab: int) -> None:
    choices = torch.tensor([loss.IGNORE_INDEX, *range(vocab)])
    for length in range(1, 5):
        student = _all_vectors(vocab)[:length].clone()
        teacher = student.flip(0) * 2
        for labels in torch.cartesian_prod(*[choices] * length).reshape(-1, length):
            total, grad = _alpha_zero(student, labels, teacher, 2.0)
            ref_total, ref_grad = _cross_entropy(student, labels)
            assert torch.isfinite(total), labels  # all ignored: 0, never NaN
            assert float(total) == pytest.approx(float(ref_total), rel=1e-6, abs=1e-9), labels
            torch.testing.assert_close(grad, ref_grad, rtol=1e-5, atol=1e-8)


def _alpha_zero(
    student: torch.Tensor, targets: torch.Tensor, teacher: loss.Teacher, temperature: float
) -> tuple[torch.Tensor, torch.Tensor]:
    s = student.clone().requires_grad_(True)
    out = loss.kd_loss(s, targets, teacher, alpha=0.0, temperature=temperature)
    out.total.backward()  # type: ignore[no-untyped-call]
    assert s.grad is not None
    return out.total.detach(), s.grad


def _cross_entropy(student: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Plain pretraining's loss: mean CE over non-ignored tokens (0 when there are none), in
    float64 so the reference's own round-off stays far below the tolerance."""
    s = student.double().requires_grad_(True)
    count = int((targets != loss.IGNORE_INDEX).sum())
    summed = torch.nn.functional.cross_entropy(
        s, targets, ignore_index=loss.IGNORE_INDEX, reduction="sum"
    )
    total = summed / max(count, 1)
    total.backward()  # type: ignore[no-untyped-call]
    assert s.grad is not None
    return total.detach().float(), s.grad.float()
