"""Checkpoints: atomic writes and a resume that refuses another config."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from distill.checkpoint import atomic_write_json, load_checkpoint, save_checkpoint
from distill.errors import CheckpointMismatchError


def test_a_checkpoint_round_trips_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    path = tmp_path / "checkpoint.pt"
    save_checkpoint(path, {"config": {"a": 1}, "w": torch.ones(3)})
    state = load_checkpoint(path, {"a": 1})
    assert torch.equal(state["w"], torch.ones(3))
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.pt"]


def test_a_failed_write_keeps_the_previous_file(tmp_path: Path) -> None:
    path = tmp_path / "metadata.json"
    atomic_write_json(path, {"epochs": [1]})
    with pytest.raises(TypeError):
        atomic_write_json(path, {"epochs": [object()]})
    assert path.read_text() == '{\n  "epochs": [\n    1\n  ]\n}\n'
    assert [p.name for p in tmp_path.iterdir()] == ["metadata.json"]


def test_resuming_with_another_config_names_the_difference(tmp_path: Path) -> None:
    path = tmp_path / "checkpoint.pt"
    save_checkpoint(path, {"config": {"train.lr": 0.1, "train.seed": 0}})
    with pytest.raises(CheckpointMismatchError, match=r"train.lr: 0.1 -> 0.2"):
        load_checkpoint(path, {"train.lr": 0.2, "train.seed": 0})


def test_resuming_without_a_checkpoint_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CheckpointMismatchError, match="nothing to resume"):
        load_checkpoint(tmp_path / "checkpoint.pt", {})
