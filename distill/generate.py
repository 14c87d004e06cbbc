"""Sample text from a trained model: temperature sampling (greedy at 0), seeded."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from distill.model import find_model_dir, is_builtin_dir
from distill.rollout import continue_ids


def sample(
    model: nn.Module,
    prompt: list[int],
    *,
    max_new_tokens: int,
    temperature: float,
    seed: int,
    device: torch.device,
    use_cache: bool = True,
) -> list[int]:
    """Token ids of `prompt` followed by up to `max_new_tokens` sampled ids."""
    model.to(device)
    gen = torch.Generator(device=device).manual_seed(seed)
    ids = torch.tensor([prompt or [10]], dtype=torch.long, device=device)
    new = continue_ids(
        model, ids, steps=max_new_tokens, temperature=temperature, gen=gen, use_cache=use_cache
    )
    out: list[int] = torch.cat([ids, new], dim=1)[0].tolist()
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
