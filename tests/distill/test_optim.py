"""AdamW's schedule as a torch LambdaLR: it follows lr_factor, its state rides in the
checkpoint, and it advances only after a real parameter update."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import torch

from distill import stages
from distill import train as train_mod
from distill.optim import count_updates, lr_factor, make_optimizer, make_scheduler
from tests.distill.conftest import TinyRun, micro_train


def test_the_scheduler_gives_lr_factor_times_the_peak_at_every_step() -> None:
    cfg = micro_train(warmup_steps=3, lr=1e-2)
    net = torch.nn.Linear(2, 2)
    opt = make_optimizer(net, cfg)
    sched = make_scheduler(opt, cfg, 12)
    seen = []
    for _ in range(12):
        seen.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert seen == pytest.approx([1e-2 * lr_factor(s, cfg, 12) for s in range(12)], rel=1e-12)
    assert all(g["lr"] == opt.param_groups[0]["lr"] for g in opt.param_groups)


def test_the_update_counter_counts_only_real_optimizer_steps() -> None:
    opt = torch.optim.SGD(torch.nn.Linear(2, 2).parameters(), lr=0.1)
    count = count_updates(opt)
    opt.step()
    opt.step()
    assert count == [2]


def test_the_checkpoint_holds_the_scheduler_state_at_the_saved_step(
    tiny_run: TinyRun, tmp_path: Path
) -> None:
    stages.distill(
        cache_path=tiny_run.cache, out_dir=tmp_path / "s", student_path=None,
        size=str(tiny_run.size_file), cfg=micro_train(epochs=2, steps_per_epoch=3),
        device="cpu", resume=False, quiet=True,
    )  # fmt: skip
    state = torch.load(tmp_path / "s" / "checkpoint.pt", weights_only=False)
    assert state["scheduler"]["last_epoch"] == state["step"] == 6
    lr = state["optimizer"]["param_groups"][0]["lr"]
    assert state["scheduler"]["_last_lr"][0] == lr
    assert lr == pytest.approx(3e-3 * lr_factor(6, micro_train(), 6))


def test_a_never_stepping_optimizer_leaves_the_schedule_alone_without_a_warning(
    tiny_run: TinyRun, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(train_mod, "optimizer_step", lambda optimizer: None)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # torch's "scheduler before optimizer" would raise
        with pytest.raises(train_mod.TrainingError, match="drift gate failed"):
            stages.distill(
                cache_path=tiny_run.cache, out_dir=tmp_path / "s", student_path=None,
                size=str(tiny_run.size_file), cfg=micro_train(epochs=1, steps_per_epoch=2),
                device="cpu", resume=False, quiet=True,
            )  # fmt: skip
    state = torch.load(tmp_path / "s" / "checkpoint.pt", weights_only=False)
    assert state["scheduler"]["last_epoch"] == 0
