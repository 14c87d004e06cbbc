"""The tqdm progress bars are silent unless stderr is a terminal and --quiet is off; on a
terminal they show the stage, steps, loss, tokens/s and an ETA; under torchrun, the rank."""

from __future__ import annotations

import io

import pytest

from distill.progress import Progress


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_is_silent_when_not_a_tty() -> None:
    stream = io.StringIO()
    bar = Progress("train", quiet=False, stream=stream)
    bar.step(1, 10, 2.5, 1000.0)
    bar.shard(1, 2, 100)
    bar.close()
    assert stream.getvalue() == ""
    assert bar.bar is None


def test_progress_is_silent_with_quiet_even_on_a_tty() -> None:
    stream = Tty()
    bar = Progress("train", quiet=True, stream=stream)
    bar.step(1, 10, 2.5, 1000.0)
    bar.close()
    assert stream.getvalue() == ""


def test_a_training_bar_shows_stage_steps_loss_throughput_and_eta() -> None:
    stream = Tty()
    bar = Progress("train", quiet=False, stream=stream)
    bar.step(1, 10, 2.75, 999.0)
    bar.step(3, 10, 2.5, 1234.0)
    bar.close()
    last = stream.getvalue().split("\r")[-1]
    assert last.startswith("train:  30%")
    assert "3/10" in last
    assert "<" in last
    assert "loss 2.5000, 1,234 tok/s" in last


def test_a_resumed_run_starts_its_bar_at_the_resumed_step() -> None:
    stream = Tty()
    bar = Progress("pretrain", quiet=False, stream=stream)
    bar.step(6, 10, 2.0, 10.0)
    assert bar.bar.n == 6
    assert bar.bar.format_dict["initial"] == 5
    bar.close()


def test_a_precompute_bar_counts_shards_and_teacher_tokens_per_second() -> None:
    stream = Tty()
    bar = Progress("precompute", quiet=False, stream=stream)
    bar.shard(1, 2, 4096)
    bar.shard(2, 2, 1024)
    assert bar.tokens == 5120
    bar.close()
    last = stream.getvalue().split("\r")[-1]
    assert "precompute: 100%" in last
    assert "2/2" in last
    assert "tok/s" in last


def test_under_torchrun_each_rank_draws_its_own_labelled_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    stream = Tty()
    bar = Progress("train", quiet=False, stream=stream)
    bar.step(1, 4, 3.0, 10.0)
    assert -bar.bar.pos == 1  # tqdm keeps a fixed `position` negated: the line below rank 0
    bar.close()
    assert "train [rank 1]" in stream.getvalue()
