"""Reading the engine's internals back through its public seams, for checks that must judge
what the engine computes rather than re-derive it by hand."""

from __future__ import annotations

import torch

from distill import loss


def engine_teacher_ranking(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """The engine's own teacher distribution softmax(z/T), read back through kd_loss: with a
    uniform student and alpha = 1 the gradient is (1/V - p) * T / N, so -grad ranks as p.
    logits (N, V) -> (N, V), larger = more probable, exact ties kept exact."""
    student = torch.zeros_like(logits, requires_grad=True)
    targets = torch.zeros(logits.shape[0], dtype=torch.long)
    out = loss.kd_loss(student, targets, logits, alpha=1.0, temperature=temperature)
    out.total.backward()  # type: ignore[no-untyped-call]
    assert student.grad is not None
    return -student.grad
