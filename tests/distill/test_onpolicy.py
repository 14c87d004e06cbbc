"""`distill onpolicy` and `distill eval` from the command line: what they record, and every
input they refuse (one error line, exit 1, nothing created). The contract's checks are in
falsify/test_distill_on_policy_v1.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner, Result

from distill.cli import main
from distill.model import GPT, GPTConfig, save_model
from tests.distill.conftest import MICRO, TinyRun, write_size

FAST = ["--epochs", "2", "--steps-per-epoch", "2", "--batch-size", "2", "--warmup-steps", "0"]
SHAPE = ["--prompt-len", "8", "--gen-len", "8", "--device", "cpu", "--quiet"]


def cli(*args: object) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture(scope="module")
def student(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(3)
    out = tmp_path_factory.mktemp("student") / "model"
    save_model(GPT(GPTConfig(**MICRO)), out)
    return out


def onpolicy(run: TinyRun, student: Path, out: Path, *extra: object) -> Result:
    return cli(
        "onpolicy", "--student", student, "--teacher", run.teacher, "--out", out, "--data",
        run.data_file, *FAST, *SHAPE, "--drift-tolerance", 0, *extra,
    )  # fmt: skip


def refused(result: Result, message: str) -> None:
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("error: "), lines
    assert message in lines[0], lines


def test_a_run_records_the_policy_the_samples_and_a_loss_per_step(
    tiny_run: TinyRun, student: Path, tmp_path: Path
) -> None:
    result = onpolicy(tiny_run, student, tmp_path / "on", "--lambda", 0.5, "--objective", "sampled")
    assert result.exit_code == 0, result.output
    assert "teacher NLL of the student's samples" in result.output
    meta = json.loads((tmp_path / "on" / "metadata.json").read_text())
    assert meta["config"]["kind"] == "onpolicy"
    assert meta["on_policy"]["lmbda"] == 0.5
    assert meta["divergence"]["name"] == "reverse_kl"  # on-policy's default
    assert [s for s, _ in meta["steps"]] == [1, 2, 3, 4]
    for epoch in meta["epochs"]:
        assert 0.0 <= epoch["on_policy_fraction"] <= 1.0
        assert (epoch["teacher_nll_of_samples"] is None) == (epoch["on_policy_fraction"] == 0)
    assert (tmp_path / "on" / "student" / "model.safetensors").is_file()


def test_eval_gives_the_validation_loss_and_the_teachers_view_of_the_samples(
    tiny_run: TinyRun, student: Path
) -> None:
    args = ["eval", "--model", student, "--data", tiny_run.data_file, "--seq-len", 32]
    plain = cli(*args, "--format", "json")
    assert plain.exit_code == 0, plain.output
    alone = json.loads(plain.output)
    assert alone["val_loss"] > 0
    assert "teacher_nll_of_samples" not in alone
    shape = SHAPE[:4]
    scored = cli(*args, "--teacher", tiny_run.teacher, "--samples", 6, *shape, "--format", "json")
    both = json.loads(scored.output)
    assert both["val_loss"] == alone["val_loss"]
    assert both["samples"] == 6
    assert both["reverse_kl_of_samples"] == pytest.approx(
        both["teacher_nll_of_samples"] - both["model_nll_of_samples"]
    )
    same = cli("eval", "--model", tiny_run.teacher, "--teacher", tiny_run.teacher, "--data",
               tiny_run.data_file, "--seq-len", 32, "--samples", 4, "--format", "json")  # fmt: skip
    assert json.loads(same.output)["reverse_kl_of_samples"] == pytest.approx(0.0, abs=1e-6)
    text = cli(*args, "--teacher", tiny_run.teacher, "--samples", 2, *SHAPE[:4])
    assert "teacher NLL of samples:" in text.output
    assert "reverse KL estimate" in text.output


def test_a_teacher_with_another_vocabulary_is_refused_before_anything_is_written(
    tiny_run: TinyRun, tmp_path: Path
) -> None:
    torch.manual_seed(0)
    other = tmp_path / "v300"
    fields = json.loads(write_size(tmp_path / "s.json", vocab_size=300).read_text())
    save_model(GPT(GPTConfig(**fields)), other)
    result = onpolicy(tiny_run, other, tmp_path / "on")
    refused(result, "vocabulary mismatch: the teacher has 256 ids, the student 300")
    assert not (tmp_path / "on").exists()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--prompt-len", "40", "--gen-len", "40"], "exceeds the teacher's context of 64"),
        (["--lambda", "1.5"], "lambda must be in [0, 1], got 1.5"),
        (["--objective", "sampled", "--gen-temperature", "0"], "it needs --gen-temperature 1"),
        (["--gen-len", "0"], "gen_len must be in [1, 65536], got 0"),
    ],
)
def test_bad_settings_are_one_error_line(
    tiny_run: TinyRun, student: Path, tmp_path: Path, extra: list[str], message: str
) -> None:
    refused(onpolicy(tiny_run, student, tmp_path / "on", *extra), message)
    assert not (tmp_path / "on").exists()


def test_eval_refuses_more_samples_than_the_validation_split_has_prompts(
    tiny_run: TinyRun, student: Path
) -> None:
    result = cli(
        "eval", "--model", student, "--teacher", tiny_run.teacher, "--data", tiny_run.data_file,
        "--samples", 100000, "--seq-len", 32, "--prompt-len", 8, "--gen-len", 8,
    )  # fmt: skip
    refused(result, "fewer than --samples 100000")


def test_eval_on_too_little_data_names_the_data_not_a_scratch_folder(
    student: Path, tmp_path: Path
) -> None:
    tiny = tmp_path / "tiny.txt"
    tiny.write_text("too short")
    result = cli("eval", "--model", student, "--data", tiny, "--seq-len", 32)
    refused(result, "the store --data (")
    assert "distill-eval-" not in result.output
