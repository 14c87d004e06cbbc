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


def test_the_kv_cache_gives_the_logits_of_recomputing_the_prefix() -> None:
    from distill.model import KVCache

    net = tiny().eval()
    x = torch.randint(0, 256, (3, 16), generator=torch.Generator().manual_seed(1))
    cache = KVCache(net, 3, torch.device("cpu"), torch.float32)
    with torch.no_grad():
        parts = [net(x[:, a:b], cache=cache) for a, b in ((0, 5), (5, 6), (6, 11), (11, 16))]
        whole = net(x)
    torch.testing.assert_close(torch.cat(parts, dim=1), whole, rtol=1e-5, atol=1e-5)
    assert cache.length == 16


def test_sampling_with_and_without_the_cache_agrees_past_the_context() -> None:
    """Greedy ids equal with the cache or without it, also once the text is longer than the
    context (16) and both fall back to a sliding window."""
    net, cpu = tiny(), torch.device("cpu")
    with_cache = sample(net, [72, 105], max_new_tokens=40, temperature=0.0, seed=0, device=cpu)
    without = sample(
        net, [72, 105], max_new_tokens=40, temperature=0.0, seed=0, device=cpu, use_cache=False
    )
    assert with_cache == without
    assert len(with_cache) == 42


def test_rows_are_sampled_together_from_one_generator() -> None:
    from distill.rollout import continue_ids

    net = tiny()
    prompts = torch.tensor([[72, 105], [65, 66], [72, 105]])

    def draw(seed: int) -> torch.Tensor:
        gen = torch.Generator().manual_seed(seed)
        return continue_ids(net, prompts, steps=12, temperature=1.0, gen=gen)

    a, b = draw(5), draw(5)
    assert a.shape == (3, 12)
    assert torch.equal(a, b)
    assert not torch.equal(a, draw(6))
    assert net.training  # the caller's mode is given back
