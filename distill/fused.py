"""The KD loss fused with the student's output projection (our GPT owns its head): logits are
built one token chunk at a time from the final hidden states, so the (N, V) logits and their
gradient never exist; each chunk's gradient w.r.t. the hidden states and the head weight is
computed in the same pass, in fp32 accumulation."""

from __future__ import annotations

from typing import Any

import torch
from torch.nn import functional as F

from distill.kernel import ChunkSpec, chunk, compute_dtype, finish_sums, teacher_rows


class FusedKD(torch.autograd.Function):
    """hidden (N, C), head (V, C) -> the loss sums of `chunk` over logits = hidden @ head.T.

    Under CUDA autocast the two matmuls per chunk run in bf16 like any linear layer; the
    softmax, the sums and the head's gradient accumulate in fp32.
    """

    @staticmethod
    def forward(
        ctx: Any,
        hidden: torch.Tensor,
        head: torch.Tensor,
        y: torch.Tensor,
        full: torch.Tensor | None,
        ids: torch.Tensor | None,
        vals: torch.Tensor | None,
        lse: torch.Tensor | None,
        spec: ChunkSpec,
    ) -> tuple[torch.Tensor, ...]:
        ctx.head_dtype = head.dtype
        want = bool(ctx.needs_input_grad[0] or ctx.needs_input_grad[1])
        sums = torch.zeros(4, dtype=torch.float64, device=hidden.device)
        grad_h = torch.empty_like(hidden) if want else None
        acc = compute_dtype(head)
        grad_w = torch.zeros(head.shape, dtype=acc, device=head.device) if want else None
        for a in range(0, hidden.shape[0], spec.rows):
            b = min(a + spec.rows, hidden.shape[0])
            h = hidden[a:b]
            logits = F.linear(h, head)
            part, g = chunk(logits, y[a:b], teacher_rows(full, ids, vals, lse, a, b), spec, want)
            sums += part
            if grad_h is not None and grad_w is not None and g is not None:
                g = g.to(logits.dtype)
                grad_h[a:b] = torch.mm(g, head.to(g.dtype))
                grad_w += torch.mm(g.t(), h.to(g.dtype)).to(acc)
        ctx.save_for_backward(
            grad_h if grad_h is not None else torch.empty(0),
            grad_w if grad_w is not None else torch.empty(0),
        )
        return finish_sums(ctx, sums, compute_dtype(hidden), spec)

    @staticmethod
    def backward(ctx: Any, *grads: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        grad_h, grad_w = ctx.saved_tensors
        scale = grads[0]
        return (
            (grad_h * scale.to(grad_h.dtype)) if ctx.needs_input_grad[0] else None,
            (grad_w * scale).to(ctx.head_dtype) if ctx.needs_input_grad[1] else None,
            *([None] * 6),
        )
