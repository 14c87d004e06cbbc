"""The training loop: learning, bitwise resume, accumulation, NaN stop and the drift gate."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file

from distill import cli, stages
from distill import loss as kd
from distill import train as train_mod
from distill.errors import CheckpointMismatchError, TrainingError, WriteError
from distill.optim import lr_factor
from distill.runs import content_digests
from tests.distill.conftest import TinyRun, micro_train

FIELDS = {
    "train_loss",
    "val_loss",
    "kl_loss",
    "ce_loss",
    "total_loss",
    "optimizer_state_sha",
    "wall_seconds",
    "tokens_seen",
    "tokens_per_second",
}


def distil(
    run: TinyRun, out: Path, resume: bool = False, checkpoint_every: int = 0, **cfg: Any
) -> train_mod.Outcome:
    return stages.distill(
        cache_path=run.cache,
        out_dir=out,
        student_path=None,
        size=str(run.size_file),
        cfg=micro_train(**cfg),
        device="cpu",
        resume=resume,
        quiet=True,
        checkpoint_every=checkpoint_every,
    )


def weights(model_dir: Path) -> dict[str, torch.Tensor]:
    return load_file(str(model_dir / "model.safetensors"))


def test_a_tiny_student_loss_falls_and_metadata_has_every_field(
    tiny_run: TinyRun, tmp_path: Path
) -> None:
    outcome = distil(tiny_run, tmp_path / "s", epochs=3, steps_per_epoch=8)
    records = json.loads((tmp_path / "s" / "metadata.json").read_text())["epochs"]
    assert [r["epoch"] for r in records] == [1, 2, 3]
    assert set(records[0]) >= FIELDS
    assert records[-1]["train_loss"] < records[0]["train_loss"]
    assert records[-1]["val_loss"] < records[0]["val_loss"]
    assert records[-1]["tokens_seen"] == 3 * 8 * 4 * 32
    assert outcome.metadata["drift_gate"]["passed"] is True
    assert outcome.metadata["drift_gate"]["relative_change"] > 0.05


def test_four_steps_straight_equal_two_then_resume_then_two_bitwise(
    tiny_run: TinyRun, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    straight = distil(tiny_run, tmp_path / "straight", epochs=2, steps_per_epoch=2)
    real_step = train_mod.optimizer_step
    calls = {"n": 0}

    def crash_after_two(optimizer: torch.optim.Optimizer) -> None:
        if calls["n"] == 2:
            raise KeyboardInterrupt  # a kill between epochs 1 and 2
        calls["n"] += 1
        real_step(optimizer)

    monkeypatch.setattr(train_mod, "optimizer_step", crash_after_two)
    with pytest.raises(KeyboardInterrupt):
        distil(tiny_run, tmp_path / "resumed", epochs=2, steps_per_epoch=2)
    monkeypatch.setattr(train_mod, "optimizer_step", real_step)
    resumed = distil(tiny_run, tmp_path / "resumed", resume=True, epochs=2, steps_per_epoch=2)
    a, b = weights(straight.model_dir), weights(resumed.model_dir)
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert [r["optimizer_state_sha"] for r in straight.metadata["epochs"]] == [
        r["optimizer_state_sha"] for r in resumed.metadata["epochs"]
    ]


def killed_after(monkeypatch: pytest.MonkeyPatch, updates: int) -> None:
    """The next run dies (as a SIGKILL would, nothing caught) before its update `updates + 1`,
    its forward and backward done, its step not taken."""
    real_step = train_mod.optimizer_step
    calls = {"n": 0}

    def step(optimizer: torch.optim.Optimizer) -> None:
        if calls["n"] == updates:
            raise KeyboardInterrupt
        calls["n"] += 1
        real_step(optimizer)

    monkeypatch.setattr(train_mod, "optimizer_step", step)


SIX_STEPS = {"epochs": 2, "steps_per_epoch": 3}  # epoch checkpoints after steps 3 and 6


@pytest.fixture(scope="module")
def uninterrupted(tiny_run: TinyRun, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    out = tmp_path_factory.mktemp("uninterrupted") / "s"
    distil(tiny_run, out, **SIX_STEPS)
    return content_digests(out)


@pytest.mark.parametrize(
    ("every", "updates", "resume_every"),
    [
        (2, 0, 2),  # killed before any checkpoint: the resume starts the run again
        (2, 1, 2),  # before the first step checkpoint
        (2, 2, 2),  # right after the step checkpoint at 2
        (2, 4, 2),  # mid second epoch, from the step checkpoint at 4
        (2, 5, 0),  # resumed without step checkpoints: they are not part of the run
        (1, 5, 1),  # one every step
        (0, 4, 0),  # epoch checkpoints only: mid-epoch work is done again
    ],
)
def test_killed_at_any_step_and_resumed_gives_the_uninterrupted_bytes(
    tiny_run: TinyRun,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    uninterrupted: dict[str, str],
    every: int,
    updates: int,
    resume_every: int,
) -> None:
    out = tmp_path / "s"
    killed_after(monkeypatch, updates)
    with pytest.raises(KeyboardInterrupt):
        distil(tiny_run, out, checkpoint_every=every, **SIX_STEPS)
    if every and updates >= every:
        assert torch.load(out / "checkpoint.pt", weights_only=False)["step"] == (
            updates // every * every
        )
    monkeypatch.undo()
    distil(tiny_run, out, resume=True, checkpoint_every=resume_every, **SIX_STEPS)
    assert content_digests(out) == uninterrupted


@pytest.mark.parametrize("epoch", [1, 2])
def test_killed_between_an_epochs_checkpoint_and_its_metadata_resumes_to_the_same_bytes(
    tiny_run: TinyRun,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    uninterrupted: dict[str, str],
    capsys: pytest.CaptureFixture[str],
    epoch: int,
) -> None:
    """The epoch's checkpoint is on disk, its metadata.json is not: the resume finishes the run
    with the uninterrupted bytes; the clock's figures of that epoch died with its process, so
    they are null (not measured), and the CLI's summary line says `-` for them."""
    out = tmp_path / "s"
    real_write = train_mod.atomic_write_json
    written = {"n": 0}

    def write(path: Path, data: Any) -> None:
        if path.name == "metadata.json":
            written["n"] += 1
            if written["n"] == epoch:
                raise KeyboardInterrupt
        real_write(path, data)

    monkeypatch.setattr(train_mod, "atomic_write_json", write)
    with pytest.raises(KeyboardInterrupt):
        distil(tiny_run, out, **SIX_STEPS)
    monkeypatch.undo()
    outcome = distil(tiny_run, out, resume=True, **SIX_STEPS)
    assert content_digests(out) == uninterrupted
    lost = outcome.metadata["epochs"][epoch - 1]
    assert lost["tokens_per_second"] is None
    assert lost["wall_seconds"] is None
    if epoch == 1:  # the epoch the resumed process ran was measured
        assert outcome.metadata["epochs"][1]["tokens_per_second"] > 0
    cli._report(outcome.model_dir, outcome.metadata)  # the line `distill train` prints
    said = capsys.readouterr().out
    assert ("tokens/s: -\n" in said) == (epoch == 2), said


def test_step_checkpoints_do_not_change_the_trained_model(
    tiny_run: TinyRun, tmp_path: Path, uninterrupted: dict[str, str]
) -> None:
    distil(tiny_run, tmp_path / "s", checkpoint_every=1, **SIX_STEPS)
    assert content_digests(tmp_path / "s") == uninterrupted


def test_a_resume_twice_in_one_epoch_adds_up_that_epoch_once(
    tiny_run: TinyRun,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    uninterrupted: dict[str, str],
) -> None:
    out = tmp_path / "s"
    for updates in (1, 1):  # 1 step, checkpoint, 1 more step (lost), killed; then 1 more
        killed_after(monkeypatch, updates)
        with pytest.raises(KeyboardInterrupt):
            distil(tiny_run, out, resume=(out / "checkpoint.pt").is_file(), checkpoint_every=1,
                   **SIX_STEPS)  # fmt: skip
        monkeypatch.undo()
    distil(tiny_run, out, resume=True, checkpoint_every=1, **SIX_STEPS)
    assert content_digests(out) == uninterrupted


@pytest.mark.parametrize("made", [False, True])
def test_resume_where_no_run_began_says_there_is_nothing_to_resume(
    tiny_run: TinyRun, tmp_path: Path, made: bool
) -> None:
    if made:
        (tmp_path / "s").mkdir()
    with pytest.raises(CheckpointMismatchError, match="nothing to resume"):
        distil(tiny_run, tmp_path / "s", resume=True, **SIX_STEPS)


def test_resume_with_another_config_is_refused(tiny_run: TinyRun, tmp_path: Path) -> None:
    distil(tiny_run, tmp_path / "s", epochs=1, steps_per_epoch=2)
    with pytest.raises(CheckpointMismatchError, match=r"train.alpha: 0.9 -> 0.5"):
        distil(tiny_run, tmp_path / "s", resume=True, epochs=1, steps_per_epoch=2, alpha=0.5)


def test_gradient_accumulation_splits_give_the_same_update(
    tiny_run: TinyRun, tmp_path: Path
) -> None:
    one = distil(tiny_run, tmp_path / "one", epochs=1, steps_per_epoch=2, batch_size=4)
    two = distil(
        tiny_run, tmp_path / "two", epochs=1, steps_per_epoch=2, batch_size=2, grad_accum=2
    )
    a, b = weights(one.model_dir), weights(two.model_dir)
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-4, atol=1e-5)


def test_a_nan_loss_stops_training_and_keeps_the_last_good_checkpoint(
    tiny_run: TinyRun, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_loss = kd.kd_loss
    calls = {"n": 0}

    def nan_on_third_step(*args: Any, **kwargs: Any) -> kd.KDLoss:
        out = real_loss(*args, **kwargs)
        if kwargs.get("normalizer") is not None:  # training calls, not evaluation
            calls["n"] += 1
            if calls["n"] == 3:
                return kd.KDLoss(
                    total=out.total * torch.nan, kl=out.kl, ce=out.ce, tokens=out.tokens
                )
        return out

    out = tmp_path / "s"
    monkeypatch.setattr(kd, "kd_loss", nan_on_third_step)
    with pytest.raises(TrainingError, match=r"loss became nan at step 2.*last good checkpoint"):
        distil(tiny_run, out, epochs=2, steps_per_epoch=2)
    state = torch.load(out / "checkpoint.pt", weights_only=False)
    assert state["step"] == 2
    assert len(json.loads((out / "metadata.json").read_text())["epochs"]) == 1
    assert not (out / "student").exists()


def test_a_student_that_never_steps_fails_the_drift_gate(
    tiny_run: TinyRun, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(train_mod, "optimizer_step", lambda optimizer: None)
    with pytest.raises(TrainingError, match=r"drift gate failed: .* 0\.00%"):
        distil(tiny_run, tmp_path / "s", epochs=1, steps_per_epoch=2)
    gate = json.loads((tmp_path / "s" / "metadata.json").read_text())["drift_gate"]
    assert gate["passed"] is False
    assert not (tmp_path / "s" / "student").exists()


def test_a_failed_drift_gate_on_resume_keeps_the_published_model(
    tiny_run: TinyRun, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = distil(tiny_run, tmp_path / "s", epochs=1, steps_per_epoch=2)
    (first.model_dir / "published.txt").write_text("the model users already read")
    before = (first.model_dir / "model.safetensors").read_bytes()
    monkeypatch.setattr(train_mod, "relative_change", lambda model, initial: 0.0)
    with pytest.raises(TrainingError, match=r"was not written \(the rejected weights are only in"):
        distil(tiny_run, tmp_path / "s", resume=True, epochs=1, steps_per_epoch=2)
    assert (first.model_dir / "model.safetensors").read_bytes() == before
    assert (first.model_dir / "published.txt").is_file()  # the directory was not replaced


def test_publishing_replaces_the_old_model_and_leaves_no_side_directory(tmp_path: Path) -> None:
    from distill.model import GPT, GPTConfig

    target = tmp_path / "student"
    for seed in (0, 1):
        torch.manual_seed(seed)
        train_mod.publish_model(GPT(GPTConfig(n_layer=1, n_head=2, n_embd=16)), target)
        torch.manual_seed(seed)
        expected = GPT(GPTConfig(n_layer=1, n_head=2, n_embd=16)).state_dict()
        got = weights(target)
        assert all(torch.equal(got[k], expected[k]) for k in got)
    # the live version behind the symlink; the first one was removed once replaced
    assert sorted(p.name for p in tmp_path.iterdir()) == [".student.v-2", "student"]
    assert target.is_symlink()


def test_the_initial_weights_are_written_atomically(
    tiny_run: TinyRun, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_save = torch.save

    def crash_midway(obj: Any, f: Any, *args: Any, **kwargs: Any) -> None:
        Path(f).write_bytes(b"half")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", crash_midway)
    with pytest.raises(WriteError, match=r"cannot write .*initial_model.pt .*: disk full"):
        distil(tiny_run, tmp_path / "s", epochs=1, steps_per_epoch=2)
    monkeypatch.setattr(torch, "save", real_save)
    assert sorted(p.name for p in (tmp_path / "s").iterdir()) == [".distill.lock"]


def test_resume_with_unreadable_initial_weights_is_refused(
    tiny_run: TinyRun, tmp_path: Path
) -> None:
    distil(tiny_run, tmp_path / "s", epochs=1, steps_per_epoch=2)
    (tmp_path / "s" / "initial_model.pt").write_bytes(b"not a pickle")
    with pytest.raises(CheckpointMismatchError, match=r"cannot read .*initial_model.pt"):
        distil(tiny_run, tmp_path / "s", resume=True, epochs=1, steps_per_epoch=2)


def test_learning_rate_warms_up_then_decays_to_the_floor() -> None:
    cfg = micro_train(warmup_steps=4, min_lr_ratio=0.1)
    factors = [lr_factor(s, cfg, 20) for s in range(21)]
    assert factors[:4] == sorted(factors[:4])
    assert max(factors) == pytest.approx(1.0)
    assert factors[-1] == pytest.approx(0.1)


def test_a_large_vocabulary_gpt_trains_through_the_fused_head_with_the_same_gradient() -> None:
    from distill.model import GPT, GPTConfig

    torch.manual_seed(0)
    cfg = GPTConfig(vocab_size=train_mod.FUSE_MIN_VOCAB, n_layer=1, n_head=2, n_embd=16)
    net = GPT(cfg)
    x = torch.randint(0, cfg.vocab_size, (2, 9))
    y = torch.randint(0, cfg.vocab_size, (2, 9))
    calls: list[bool] = []
    net.register_forward_pre_hook(lambda m, a, kw: calls.append(kw.get("hidden", False)),
                                  with_kwargs=True)  # fmt: skip
    fused = train_mod.student_loss(net, x, y, None, micro_train(), alpha=0.0, temperature=1.0)
    fused.total.backward()
    got = {k: p.grad.clone() for k, p in net.named_parameters() if p.grad is not None}
    net.zero_grad()
    ref = kd.kd_loss(net(x), y, None, alpha=0.0, temperature=1.0)
    ref.total.backward()
    assert calls[0] is True  # the logits were never built
    assert fused.total.item() == pytest.approx(ref.total.item(), rel=1e-6)
    for name, p in net.named_parameters():
        assert p.grad is not None
        torch.testing.assert_close(got[name], p.grad, rtol=1e-5, atol=1e-7)
