"""Sampling continuations from a model, many rows at once, with a KV cache: the built-in GPT's
own (distill.model.KVCache) or a Hugging Face model's (`use_cache`). `distill generate`, the
on-policy rollouts and `distill eval` all sample here. Randomness comes only from the generator
the caller passes, so a caller that seeds it from (seed, step, rank) gets the same ids in every
process and on every resume."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from distill import hf
from distill.model import GPT, KVCache


def pick(logits: torch.Tensor, temperature: float, gen: torch.Generator) -> torch.Tensor:
    """Next ids (B, 1) from last-position logits (B, V): argmax at temperature 0, else a draw
    from softmax(logits / T)."""
    if temperature == 0:
        return logits.argmax(-1, keepdim=True)
    probs = torch.softmax(logits.float() / temperature, dim=-1)
    return torch.multinomial(probs, 1, generator=gen)


class _Decoder:
    """Logits of the newest position, one step at a time: through a KV cache while the text
    fits the model's context, by recomputing the last `limit` positions once it does not (a
    sliding window, as without a cache), or always by recomputing when `use_cache` is off."""

    def __init__(self, model: nn.Module, use_cache: bool) -> None:
        self.model = model
        self.limit = int(getattr(model, "max_seq_len", 1 << 20))
        self.cached = use_cache and isinstance(model, GPT | hf.HFCausalLM)
        self.state: Any = None

    def last(self, ids: torch.Tensor, new: int) -> torch.Tensor:
        """Logits (B, V) after `ids`, whose last `new` positions the cache has not seen."""
        logits: torch.Tensor
        if not self.cached or ids.shape[1] > self.limit:
            logits = self.model(ids[:, -self.limit :])
        elif isinstance(self.model, GPT):
            if self.state is None:
                dtype = self.model.wte.weight.dtype
                self.state = KVCache(self.model, ids.shape[0], ids.device, dtype)
                new = ids.shape[1]
            logits = self.model(ids[:, -new:], cache=self.state)
        else:
            assert isinstance(self.model, hf.HFCausalLM)
            fresh = ids if self.state is None else ids[:, -new:]
            logits, self.state = self.model.decode(fresh, self.state)
        return logits[:, -1]


@torch.no_grad()
def continue_ids(
    model: nn.Module,
    prompts: torch.Tensor,
    *,
    steps: int,
    temperature: float,
    gen: torch.Generator,
    use_cache: bool = True,
) -> torch.Tensor:
    """`steps` ids sampled after each row of `prompts` (B, P): (B, steps). No gradient: the
    ids are data for the loss, never a path back into the model."""
    was_training = model.training
    model.eval()
    try:
        decoder = _Decoder(model, use_cache)
        ids = prompts
        for _ in range(steps):
            nxt = pick(decoder.last(ids, 1), temperature, gen)
            ids = torch.cat([ids, nxt], dim=1)
        return ids[:, prompts.shape[1] :]
    finally:
        model.train(was_training)
