"""Configs refuse out-of-range values at construction, with the value in the message."""

from __future__ import annotations

import pytest

from distill.config import DataConfig, PrecomputeConfig, TrainConfig
from distill.errors import ConfigError


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"alpha": 1.01}, "alpha must be in [0, 1]"),
        ({"temperature": 0.0}, "temperature must be in (0, 100]"),
        ({"temperature": float("nan")}, "temperature must be in (0, 100]"),
        ({"epochs": 0}, "epochs must be in [1, 100000]"),
        ({"grad_accum": 0}, "grad_accum must be in [1, 1024]"),
    ],
)
def test_train_config_refuses_out_of_range_values(fields: dict[str, float], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("(", r"\(")):
        TrainConfig(**fields)  # type: ignore[arg-type]


def test_boundary_values_are_accepted() -> None:
    assert TrainConfig(alpha=0.0).alpha == 0.0
    assert TrainConfig(alpha=1.0).alpha == 1.0
    assert DataConfig(seq_len=2).seq_len == 2
    assert PrecomputeConfig(top_k=0).top_k == 0


def test_data_and_precompute_configs_refuse_bad_values() -> None:
    with pytest.raises(ConfigError, match="seq_len"):
        DataConfig(seq_len=1)
    with pytest.raises(ConfigError, match="top_k"):
        PrecomputeConfig(top_k=-1)
