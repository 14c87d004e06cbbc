"""Local Hugging Face causal LMs as teacher: a tiny random GPT-2 the test builds itself."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

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


def test_a_local_hf_teacher_fills_a_cache_a_builtin_student_learns_from(
    tiny_run: TinyRun, tmp_path: Path
) -> None:
    teacher = tiny_gpt2(tmp_path / "hf", 256)
    runner = CliRunner()
    cache = runner.invoke(
        main,
        [
            "precompute",
            "--teacher",
            str(teacher),
            "--out",
            str(tmp_path / "c"),
            "--data",
            str(tiny_run.data_file),
            "--seq-len",
            "32",
            "--max-windows",
            "16",
            "--device",
            "cpu",
            "--quiet",
        ],
    )
    assert cache.exit_code == 0, cache.output
    student = runner.invoke(
        main,
        [
            "train",
            "--cache",
            str(tmp_path / "c"),
            "--out",
            str(tmp_path / "s"),
            "--student-size",
            str(tiny_run.size_file),
            "--epochs",
            "1",
            "--steps-per-epoch",
            "4",
            "--batch-size",
            "4",
            "--warmup-steps",
            "1",
            "--lr",
            "0.01",
            "--device",
            "cpu",
            "--quiet",
        ],
    )
    assert student.exit_code == 0, student.output


def test_a_teacher_with_another_vocabulary_is_refused_before_training(
    tiny_run: TinyRun, tmp_path: Path
) -> None:
    teacher = tiny_gpt2(tmp_path / "hf300", 300)
    runner = CliRunner()
    cache = runner.invoke(
        main,
        [
            "precompute",
            "--teacher",
            str(teacher),
            "--out",
            str(tmp_path / "c"),
            "--data",
            str(tiny_run.data_file),
            "--seq-len",
            "32",
            "--max-windows",
            "4",
            "--device",
            "cpu",
            "--quiet",
        ],
    )
    assert cache.exit_code == 0, cache.output
    result = runner.invoke(
        main,
        [
            "train",
            "--cache",
            str(tmp_path / "c"),
            "--out",
            str(tmp_path / "s"),
            "--student-size",
            str(tiny_run.size_file),
            "--device",
            "cpu",
            "--quiet",
        ],
    )
    assert result.exit_code == 1
    assert "error: vocabulary mismatch: the teacher cache has 300 ids, the student 256" in (
        result.stderr
    )
    assert not (tmp_path / "s").exists()
