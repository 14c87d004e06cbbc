"""The `distill` CLI through CliRunner: the pipeline end to end, and every refused input as
one `error: ...` line with exit 1 (never a traceback), leaving what is on disk intact."""

from __future__ import annotations

import errno
import json
import shutil
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from distill import cache
from distill.cli import main
from tests.distill.conftest import SEQ_LEN, TinyRun

FAST = [
    "--epochs", "1", "--steps-per-epoch", "4", "--batch-size", "4", "--warmup-steps", "1",
    "--lr", "0.01", "--device", "cpu", "--quiet",
]  # fmt: skip


def invoke(*args: str | Path) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args])


def assert_refused(result: Result, message: str) -> None:
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("error: ")
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.output


def train_args(run: TinyRun, out: Path, *extra: str) -> list[str | Path]:
    return [
        "train",
        "--cache",
        run.cache,
        "--out",
        out,
        "--student-size",
        run.size_file,
        *FAST,
        *extra,
    ]


def test_the_whole_pipeline_runs_on_the_embedded_corpus(tiny_run: TinyRun, tmp_path: Path) -> None:
    seq = ["--seq-len", str(SEQ_LEN)]
    teacher = invoke(
        "pretrain", "--out", tmp_path / "t", "--model-size", tiny_run.size_file, *seq, *FAST
    )
    assert teacher.exit_code == 0, teacher.output
    cache = invoke(
        "precompute",
        "--teacher",
        tmp_path / "t",
        "--out",
        tmp_path / "c",
        "--max-windows",
        "40",
        "--top-k",
        "4",
        *seq,
        "--device",
        "cpu",
        "--quiet",
    )
    assert cache.exit_code == 0, cache.output
    student = invoke(
        "train",
        "--cache",
        tmp_path / "c",
        "--out",
        tmp_path / "s",
        "--student-size",
        tiny_run.size_file,
        *FAST,
    )
    assert student.exit_code == 0, student.output
    assert "drift gate: changed" in student.output
    sample = invoke(
        "generate", "--model", tmp_path / "s", "--max-new-tokens", "12", "--device", "cpu"
    )
    assert sample.exit_code == 0, sample.output
    assert sample.output.startswith("The ")
    assert len(sample.output.encode()) >= 13
    manifest = json.loads((tmp_path / "c" / "teacher_logits" / "manifest.json").read_text())
    assert manifest["n_windows"] == 40


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--alpha", "1.5"], "alpha must be in [0, 1], got 1.5"),
        (["--alpha", "-0.1"], "alpha must be in [0, 1], got -0.1"),
        (["--temperature", "0"], "temperature must be in (0, 100], got 0"),
        (["--temperature", "-2"], "temperature must be in (0, 100], got -2"),
        (["--lr", "0"], "lr must be in (0, 1], got 0"),
        (["--divergence", "jsd", "--beta", "1.5"], "beta must be in [0, 1], got 1.5"),
        (["--divergence", "skew_kl", "--skew", "1"], "skew must be in [0, 1), got 1"),
        (["--tail", "bucket", "--temperature", "2"], "tail bucket needs temperature 1"),
    ],
)
def test_out_of_range_options_are_refused(
    tiny_run: TinyRun, tmp_path: Path, extra: list[str], message: str
) -> None:
    assert_refused(invoke(*train_args(tiny_run, tmp_path / "s", *extra)), message)
    assert not (tmp_path / "s").exists()


def test_train_without_a_cache_is_refused(tiny_run: TinyRun, tmp_path: Path) -> None:
    result = invoke("train", "--cache", tmp_path / "nothing", "--out", tmp_path / "s", *FAST)
    assert_refused(result, "no teacher-logit cache")


def test_train_with_a_corrupt_shard_is_refused(tiny_run: TinyRun, tmp_path: Path) -> None:
    shutil.copytree(tiny_run.cache, tmp_path / "c")
    shard = tmp_path / "c" / "teacher_logits" / "values-00000.bin"
    raw = bytearray(shard.read_bytes())
    raw[7] ^= 1
    shard.write_bytes(bytes(raw))
    result = invoke("train", "--cache", tmp_path / "c", "--out", tmp_path / "s", *FAST)
    assert_refused(result, "is corrupt: sha256 differs from the manifest")


def test_train_with_a_truncated_shard_is_refused(tiny_run: TinyRun, tmp_path: Path) -> None:
    shutil.copytree(tiny_run.cache, tmp_path / "c")
    shard = tmp_path / "c" / "teacher_logits" / "tokens-00000.bin"
    shard.write_bytes(shard.read_bytes()[:100])
    result = invoke("train", "--cache", tmp_path / "c", "--out", tmp_path / "s", *FAST)
    assert_refused(result, "truncated")


def test_an_output_directory_holding_another_run_is_refused_untouched(
    tiny_run: TinyRun, tmp_path: Path
) -> None:
    out = tmp_path / "s"
    assert invoke(*train_args(tiny_run, out)).exit_code == 0
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    assert_refused(invoke(*train_args(tiny_run, out)), "already holds another run")
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before


def test_an_unreadable_data_file_is_refused(tmp_path: Path) -> None:
    result = invoke("pretrain", "--out", tmp_path / "t", "--data", tmp_path / "nope.txt", *FAST)
    assert_refused(result, "cannot read data file")


def test_a_student_with_another_vocabulary_is_refused(tiny_run: TinyRun, tmp_path: Path) -> None:
    from tests.distill.conftest import write_size

    size = write_size(tmp_path / "v300.json", vocab_size=300)
    result = invoke(
        "train", "--cache", tiny_run.cache, "--out", tmp_path / "s", "--student-size", size, *FAST
    )
    assert_refused(result, "vocabulary mismatch: the teacher cache has 256 ids, the student 300")
    assert not (tmp_path / "s").exists()


def test_a_missing_model_is_refused(tmp_path: Path) -> None:
    assert_refused(invoke("generate", "--model", tmp_path), "no model in")


def test_run_refuses_a_directory_that_already_holds_a_demo(tmp_path: Path) -> None:
    (tmp_path / "teacher").mkdir()
    assert_refused(invoke("run", "--out", tmp_path, "--quiet"), "already exists")


def test_every_option_of_every_command_has_help_text() -> None:
    for name, command in main.commands.items():
        for param in command.params:  # arguments have no help in click: their command's does
            if param.name != "help" and isinstance(param, click.Option):
                assert getattr(param, "help", None), f"{name} --{param.name} has no help"


@pytest.mark.cli("distill run")
def test_run_chains_every_stage_on_the_embedded_corpus(tmp_path: Path) -> None:
    sizes = ["--teacher-size", "tiny", "--teacher-steps", "6", "--student-steps", "4"]
    result = invoke("run", "--out", tmp_path, *sizes, "--device", "cpu", "--quiet")
    assert result.exit_code == 0, result.output
    out = result.stdout.splitlines()
    lines = dict(line.split(":", 1) for line in out if not line.startswith("|"))
    assert set(lines) >= {"teacher", "cache", "student", "scratch", "sample", "report", "wall"}
    assert lines["report"].strip() == str(tmp_path / "report.html")
    assert lines["chart"].strip() == str(tmp_path / "loss.png")
    metadata = json.loads((tmp_path / "distill" / "metadata.json").read_text(encoding="utf-8"))
    assert len(metadata["epochs"]) >= 1
    scratch = json.loads((tmp_path / "scratch" / "metadata.json").read_text(encoding="utf-8"))
    # the baseline: the distilled student's shape, steps and seed, trained on CE alone
    assert scratch["config"]["train.alpha"] == 0.0
    assert scratch["config"]["train.seed"] == metadata["config"]["train.seed"]
    assert scratch["epochs"][-1]["step"] == metadata["epochs"][-1]["step"]
    student = {k[8:]: v for k, v in metadata["config"].items() if k.startswith("student.")}
    assert student == {k[6:]: v for k, v in scratch["config"].items() if k.startswith("model.")}
    rows = {
        r.split("|")[1].strip(): float(r.split("|")[2])
        for r in out
        if r[:4] in ("| te", "| di", "| fr")
    }
    assert rows["distilled"] == round(metadata["epochs"][-1]["val_loss"], 4)
    assert rows["from scratch"] == round(scratch["epochs"][-1]["val_loss"], 4)
    margin = float(lines["margin"].split()[0])
    assert margin == pytest.approx(rows["from scratch"] - rows["distilled"], abs=2e-4)
    assert 'id="run-from-scratch"' in (tmp_path / "report.html").read_text(encoding="utf-8")
    assert (tmp_path / "distill" / "student" / "model.safetensors").is_file()
    assert (tmp_path / "cache" / "teacher_logits" / "manifest.json").is_file()
    assert metadata["drift_gate"]["passed"] is True


def test_precompute_into_an_existing_file_is_refused_untouched(
    tiny_run: TinyRun, tmp_path: Path
) -> None:
    out = tmp_path / "c"
    out.write_text("keep me", encoding="utf-8")
    result = invoke(
        "precompute", "--teacher", tiny_run.teacher, "--out", out, "--data", tiny_run.data_file,
        "--seq-len", SEQ_LEN, "--device", "cpu", "--quiet",
    )  # fmt: skip
    assert_refused(result, f"--out {out} exists and is not a directory")
    assert out.read_text(encoding="utf-8") == "keep me"


def test_run_into_an_existing_file_is_refused_untouched(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    out.write_text("keep me", encoding="utf-8")
    assert_refused(invoke("run", "--out", out, "--quiet"), "exists and is not a directory")
    assert out.read_text(encoding="utf-8") == "keep me"


def test_train_from_a_manifest_that_drops_a_shard_is_refused(
    tiny_run: TinyRun, tmp_path: Path
) -> None:
    shutil.copytree(tiny_run.cache, tmp_path / "c")
    manifest_path = tmp_path / "c" / "teacher_logits" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["files"] = [f for f in manifest["files"] if f["name"] != "tokens-00000.bin"]
    manifest["manifest_sha256"] = cache._seal(manifest)  # sealed: the edit must be refused
    manifest_path.write_text(json.dumps(manifest))
    result = invoke("train", "--cache", tmp_path / "c", "--out", tmp_path / "s", *FAST)
    assert_refused(result, "does not list tokens-00000.bin")
    assert not (tmp_path / "s").exists()


def test_pretrain_with_a_vocabulary_smaller_than_a_byte_is_refused(tmp_path: Path) -> None:
    from tests.distill.conftest import write_size

    size = write_size(tmp_path / "v100.json", vocab_size=100)
    result = invoke("pretrain", "--out", tmp_path / "t", "--model-size", size, *FAST)
    assert_refused(result, "model vocab_size 100 is too small: pretrain reads bytes")
    assert not (tmp_path / "t").exists()


def test_resume_without_the_initial_weights_is_refused(tiny_run: TinyRun, tmp_path: Path) -> None:
    out = tmp_path / "s"
    assert invoke(*train_args(tiny_run, out)).exit_code == 0
    (out / "initial_model.pt").unlink()
    student = (out / "student" / "model.safetensors").read_bytes()
    result = invoke(*train_args(tiny_run, out, "--resume"))
    assert_refused(result, "cannot resume: initial_model.pt")
    assert (out / "student" / "model.safetensors").read_bytes() == student


@pytest.mark.parametrize("command", ["train", "pretrain"])
def test_resume_of_a_run_that_never_began_says_so(
    tiny_run: TinyRun, tmp_path: Path, command: str
) -> None:
    out = tmp_path / "s"
    pretrain = ["pretrain", "--data", tiny_run.data_file, "--out", out, "--model-size",
                tiny_run.size_file, *FAST, "--resume"]  # fmt: skip
    args = train_args(tiny_run, out, "--resume") if command == "train" else pretrain
    assert_refused(invoke(*args), "nothing to resume: no checkpoint.pt")
    assert not out.exists()  # not created for a refusal
    out.mkdir()
    assert_refused(invoke(*args), "nothing to resume: no checkpoint.pt")
    assert list(out.iterdir()) == []


def test_resume_of_a_run_killed_before_its_first_checkpoint_runs_it(
    tiny_run: TinyRun, tmp_path: Path
) -> None:
    from distill.runs import content_digests

    assert invoke(*train_args(tiny_run, tmp_path / "fresh")).exit_code == 0
    out = tmp_path / "s"
    assert invoke(*train_args(tiny_run, out)).exit_code == 0
    for name in ("checkpoint.pt", "metadata.json", "student"):  # as a kill at step 1 leaves it
        (out / name).unlink()
    result = invoke(*train_args(tiny_run, out, "--resume"))
    assert result.exit_code == 0, result.output
    assert content_digests(out) == content_digests(tmp_path / "fresh")


def test_an_os_error_is_one_line_not_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from distill import stages

    def full_disk(**kw: object) -> str:
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "x"))

    monkeypatch.setattr(stages, "generate", full_disk)
    result = invoke("generate", "--model", tmp_path, "--device", "cpu")
    assert_refused(result, f"No space left on device: {tmp_path / 'x'}")


def test_a_model_that_fails_the_drift_gate_is_not_published(
    tiny_run: TinyRun, tmp_path: Path
) -> None:
    out = tmp_path / "s"
    result = invoke(*train_args(tiny_run, out, "--lr", "1e-6"))
    assert_refused(result, "drift gate failed")
    assert f"the rejected weights are only in {out / 'checkpoint.pt'}" in result.stderr
    assert not (out / "student").exists()
    assert_refused(invoke("generate", "--model", out), "no model in")
    assert json.loads((out / "metadata.json").read_text())["drift_gate"]["passed"] is False


@pytest.mark.parametrize(
    "command",
    [
        ["pretrain", "--out", "t"],
        ["train", "--cache", "c", "--out", "s"],
        ["generate", "--model", "m"],
        ["run", "--out", "r"],
    ],
    ids=["pretrain", "train", "generate", "run"],
)
def test_a_negative_seed_is_refused_before_anything_is_written(
    command: list[str], tmp_path: Path
) -> None:
    paths = [str(tmp_path / a) if len(a) == 1 else a for a in command]
    result = invoke(*paths, "--seed", "-1", "--device", "cpu")
    assert_refused(result, "seed must be in [0, 2^63 - 1], got -1")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.cli("distill run")
def test_run_on_policy_adds_the_phase_a_fourth_row_and_the_samples_column(tmp_path: Path) -> None:
    from distill.data import default_text

    text = tmp_path / "mine.txt"
    text.write_bytes(default_text()[:60_000])
    sizes = ["--teacher-size", "tiny", "--teacher-steps", "6", "--student-steps", "4"]
    out = tmp_path / "r"
    result = invoke(
        "run", "--out", out, "--data", text, *sizes, "--on-policy", "--onpolicy-steps", "3",
        "--drift-tolerance", "0", "--device", "cpu", "--quiet",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = [line for line in result.stdout.splitlines() if line.startswith("|")]
    assert rows[0].endswith("| teacher NLL of samples |")
    names = [r.split("|")[1].strip() for r in rows[2:]]
    assert names == ["teacher", "distilled", "distilled + on-policy", "from scratch"]
    online = json.loads((out / "onpolicy" / "metadata.json").read_text(encoding="utf-8"))
    assert online["config"]["kind"] == "onpolicy"
    assert online["epochs"][-1]["step"] == 3
    page = (out / "report.html").read_text(encoding="utf-8")
    assert 'id="run-on-policy"' in page
    assert "teacher NLL of samples" in page


@pytest.mark.cli("distill run")
def test_run_trains_the_baseline_on_the_same_data_as_the_teacher(tmp_path: Path) -> None:
    from distill.data import default_text

    text = tmp_path / "mine.txt"
    text.write_bytes(default_text()[:60_000])
    sizes = ["--teacher-size", "tiny", "--teacher-steps", "6", "--student-steps", "4"]
    out = tmp_path / "r"
    result = invoke("run", "--out", out, "--data", text, *sizes, "--device", "cpu", "--quiet")
    assert result.exit_code == 0, result.output

    def fingerprint(part: str) -> str:
        meta = json.loads((out / part / "metadata.json").read_text(encoding="utf-8"))
        return str(meta["config"]["data_fingerprint"])

    assert fingerprint("scratch") == fingerprint("teacher")
