"""Sampling: seeded, greedy at temperature 0, prompt kept."""

from __future__ import annotations

import torch

from distill.generate import sample
from distill.model import GPT, GPTConfig


def tiny() -> GPT:
    torch.manual_seed(0)
    return GPT(GPTConfig(n_layer=1, n_head=2, n_embd=16, block_size=16))


def test_the_same_seed_gives_the_same_text_and_the_prompt_is_kept() -> None:
    net, cpu = tiny(), torch.device("cpu")
    a = sample(net, [72, 105], max_new_tokens=20, temperature=1.0, seed=3, device=cpu)
    b = sample(net, [72, 105], max_new_tokens=20, temperature=1.0, seed=3, device=cpu)
    c = sample(net, [72, 105], max_new_tokens=20, temperature=1.0, seed=4, device=cpu)
    assert a == b
    assert a != c
    assert a[:2] == [72, 105]
    assert len(a) == 22


def test_temperature_zero_picks_the_argmax_every_time() -> None:
    net, cpu = tiny(), torch.device("cpu")
    out = sample(net, [65], max_new_tokens=1, temperature=0.0, seed=0, device=cpu)
    with torch.no_grad():
        want = int(net(torch.tensor([[65]]))[0, -1].argmax())
    assert out == [65, want]
