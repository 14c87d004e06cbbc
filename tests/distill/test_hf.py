"""Local Hugging Face causal LMs as teacher: a tiny random GPT-2 the test builds itself."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from distill.cli import main
from tests.distill.conftest import TinyRun

transformers = pytest.importorskip("transformers")


def tiny_gpt2(path: Path, vocab_size: int) -> Path:
    config = transformers.GPT2Config(
        vocab_size=vocab_size,
        n_positions=64,
        n_embd=32,
        n_layer=1,
        n_head=2,
        bos_token_id=0,
        eos_token_id=0,
    )
    transformers.utils.logging.disable_progress_bar()
    transformers.GPT2LMHeadModel(config).save_pretrained(str(path))
    return path


def precompute(
    runner: CliRunner, teacher: Path, out: Path, run: TinyRun, *, max_windows: int
) -> Result:
    """`distill precompute` of `teacher` over the tiny run's corpus into `out`."""
    args = [
        *("precompute", "--teacher", teacher, "--out", out, "--data", run.data_file),
        *("--seq-len", 32, "--max-windows", max_windows, "--device", "cpu", "--quiet"),
    ]
    return runner.invoke(main, [str(a) for a in args])


def train(runner: CliRunner, cache: Path, out: Path, run: TinyRun, *extra: str) -> Result:
    """`distill train` of the tiny run's student size from `cache` into `out`."""
    args = ["train", "--cache", str(cache), "--out", str(out)]
    args += ["--student-size", str(run.size_file), *extra, "--device", "cpu", "--quiet"]
    return runner.invoke(main, args)


def test_a_local_hf_teacher_fills_a_cache_a_builtin_student_learns_from(
    tiny_run: TinyRun, tmp_path: Path
) -> None:
    teacher = tiny_gpt2(tmp_path / "hf", 256)
    runner = CliRunner()
    cache = precompute(runner, teacher, tmp_path / "c", tiny_run, max_windows=16)
    assert cache.exit_code == 0, cache.output
    fast = ["--epochs", "1", "--steps-per-epoch", "4", "--batch-size", "4", "--warmup-steps", "1"]
    student = train(runner, tmp_path / "c", tmp_path / "s", tiny_run, *fast, "--lr", "0.01")
    assert student.exit_code == 0, student.output


def test_a_teacher_with_another_vocabulary_is_refused_before_training(
    tiny_run: TinyRun, tmp_path: Path
) -> None:
    teacher = tiny_gpt2(tmp_path / "hf300", 300)
    runner = CliRunner()
    cache = precompute(runner, teacher, tmp_path / "c", tiny_run, max_windows=4)
    assert cache.exit_code == 0, cache.output
    result = train(runner, tmp_path / "c", tmp_path / "s", tiny_run)
    assert result.exit_code == 1
    assert "error: vocabulary mismatch: the teacher cache has 300 ids, the student 256" in (
        result.stderr
    )
    assert not (tmp_path / "s").exists()
