"""Sample text from a trained model: temperature sampling (greedy at 0), seeded."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from distill.model import find_model_dir, is_builtin_dir


@torch.no_grad()
def sample(
    model: nn.Module,
    prompt: list[int],
    *,
    max_new_tokens: int,
    temperature: float,
    seed: int,
    device: torch.device,
) -> list[int]:
    """Token ids of `prompt` followed by up to `max_new_tokens` sampled ids."""
    model.to(device).eval()
    gen = torch.Generator(device=device).manual_seed(seed)
    ids = torch.tensor([prompt or [10]], dtype=torch.long, device=device)
    limit = int(getattr(model, "max_seq_len", 1 << 20))
    for _ in range(max_new_tokens):
        logits = model(ids[:, -limit:])[0, -1].float()
        if temperature == 0:
            nxt = logits.argmax().view(1)
        else:
            probs = torch.softmax(logits / temperature, dim=-1)
            nxt = torch.multinomial(probs, 1, generator=gen)
        ids = torch.cat([ids, nxt.view(1, 1)], dim=1)
    out: list[int] = ids[0].tolist()
    return out if prompt else out[1:]


def encode_prompt(model_path: Path, text: str) -> list[int]:
    model_dir = find_model_dir(model_path)
    if is_builtin_dir(model_dir):
        return list(text.encode("utf-8"))
    from distill import data

    return [int(i) for i in data.tokenize(text.encode("utf-8"), model_dir)]


def decode(model_path: Path, ids: list[int]) -> str:
    model_dir = find_model_dir(model_path)
    from distill import hf

    if not is_builtin_dir(model_dir) and hf.has_tokenizer(model_dir):
        return hf.decode(model_dir, ids)
    return bytes(i for i in ids if i < 256).decode("utf-8", errors="replace")
