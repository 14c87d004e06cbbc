"""The built-in GPT: named sizes, causality, and save/find/load round trips."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from distill import model
from distill.errors import ConfigError, ModelError


def test_named_sizes_fall_in_their_stated_parameter_ranges() -> None:
    assert 100_000 <= model.n_params(model.GPT(model.SIZES["tiny"])) <= 300_000
    assert 1_000_000 <= model.n_params(model.GPT(model.SIZES["small"])) <= 5_000_000


def test_a_future_token_does_not_change_earlier_logits() -> None:
    torch.manual_seed(0)
    net = model.GPT(model.GPTConfig(n_layer=1, n_head=2, n_embd=16, block_size=16)).eval()
    x = torch.randint(0, 256, (1, 8))
    y = x.clone()
    y[0, -1] = (x[0, -1] + 1) % 256
    with torch.no_grad():
        a, b = net(x), net(y)
    torch.testing.assert_close(a[:, :-1], b[:, :-1])
    assert not torch.allclose(a[:, -1], b[:, -1])


def test_save_then_load_gives_the_same_logits_and_is_found_in_a_run_dir(tmp_path: Path) -> None:
    torch.manual_seed(0)
    net = model.GPT(model.GPTConfig(n_layer=1, n_head=2, n_embd=16, block_size=16)).eval()
    model.save_model(net, tmp_path / "run" / "model")
    loaded = model.load_model(tmp_path / "run").eval()
    x = torch.randint(0, 256, (2, 8))
    with torch.no_grad():
        assert torch.equal(net(x), loaded(x))
    assert model.find_model_dir(tmp_path / "run") == tmp_path / "run" / "model"
    assert model.fingerprint(tmp_path / "run") == model.fingerprint(tmp_path / "run" / "model")


def test_an_unknown_size_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unknown model size 'huge'"):
        model.resolve_size("huge")


def test_a_directory_without_a_model_is_a_model_error(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="no model in"):
        model.find_model_dir(tmp_path)


def test_a_sequence_longer_than_the_context_is_refused() -> None:
    net = model.GPT(model.GPTConfig(n_layer=1, n_head=2, n_embd=16, block_size=4))
    with pytest.raises(ModelError, match="exceeds"):
        net(torch.zeros(1, 5, dtype=torch.long))
