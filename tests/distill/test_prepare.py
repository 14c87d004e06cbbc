"""`distill prepare` and every stage on a prepared store, end to end through the CLI, on JSONL,
Parquet and gzip inputs; bad inputs give one `error:` line and exit 1."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from distill.cli import main
from distill.data import default_text
from tests.distill.conftest import TinyRun, write_size

FAST = ["--epochs", "1", "--steps-per-epoch", "2", "--batch-size", "4", "--warmup-steps", "1"]
CPU = ["--device", "cpu", "--quiet"]


def cli(*args: object) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args])


def _docs(n: int, size: int = 400) -> list[str]:
    text = default_text().decode("utf-8")
    return [text[i * size : (i + 1) * size] for i in range(n)]


def _inputs(tmp_path: Path) -> dict[str, Path]:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    lines = "".join(json.dumps({"text": d}) + "\n" for d in _docs(30))
    (tmp_path / "d.jsonl").write_text(lines, encoding="utf-8")
    pq.write_table(pa.table({"text": _docs(60)[30:]}), tmp_path / "d.parquet")
    (tmp_path / "d.jsonl.gz").write_bytes(gzip.compress(lines.encode()))
    return {k: tmp_path / f"d.{k}" for k in ("jsonl", "parquet", "jsonl.gz")}


def _one_error_line(result: Result) -> str:
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.output
    return lines[0]


@pytest.mark.cli("distill prepare")
def test_prepare_reads_jsonl_parquet_and_gzip_and_says_what_it_wrote(tmp_path: Path) -> None:
    files = _inputs(tmp_path)
    counts = {}
    for kind, path in files.items():
        result = cli("prepare", "--data", path, "--out", tmp_path / kind)
        assert result.exit_code == 0, result.output
        assert f"store: {tmp_path / kind}" in result.output
        assert "MB/s" in result.output
        counts[kind] = json.loads((tmp_path / kind / "manifest.json").read_text())["n_tokens"]
    body = tmp_path / "body.jsonl"
    body.write_text('{"body": "abcdefghij"}\n', encoding="utf-8")
    result = cli("prepare", "--data", body, "--out", tmp_path / "body", "--text-field", "body",
                 "--val-fraction", "0.2")  # fmt: skip
    assert result.exit_code == 0, result.output
    split = json.loads((tmp_path / "body" / "manifest.json").read_text())["split"]
    assert split == {"val_fraction": 0.2, "train_tokens": 8, "val_tokens": 2}
    docs = _docs(60)
    first, second = (sum(len(d.encode()) for d in part) for part in (docs[:30], docs[30:]))
    assert counts["jsonl"] == counts["jsonl.gz"] == first + 29  # documents + separators
    assert counts["parquet"] == second + 29


def test_every_stage_runs_on_one_prepared_store(tmp_path: Path) -> None:
    files = _inputs(tmp_path)
    size = write_size(tmp_path / "micro.json")
    store = tmp_path / "store"
    prepared = cli("prepare", *[a for f in files.values() for a in ("--data", f)], "--out", store)
    assert prepared.exit_code == 0, prepared.output
    seq = ["--seq-len", "16"]
    teacher = cli("pretrain", "--data", store, "--out", tmp_path / "t", "--model-size", size,
                  *seq, *FAST, "--lr", "0.01", "--drift-tolerance", "0", *CPU)  # fmt: skip
    assert teacher.exit_code == 0, teacher.output
    assert not (tmp_path / "t" / "data").exists()  # a store is read where it is
    cache = cli("precompute", "--teacher", tmp_path / "t", "--data", store, "--out",
                tmp_path / "c", *seq, "--max-windows", "32", "--top-k", "4", *CPU)  # fmt: skip
    assert cache.exit_code == 0, cache.output
    manifest = json.loads((tmp_path / "c" / "teacher_logits" / "manifest.json").read_text())
    assert manifest["data"]["tokenizer"].startswith("bytes:")
    student = cli("train", "--cache", tmp_path / "c", "--out", tmp_path / "s", "--student-size",
                  size, *FAST, "--lr", "0.01", "--drift-tolerance", "0", *CPU)  # fmt: skip
    assert student.exit_code == 0, student.output
    assert (tmp_path / "s" / "student" / "model.safetensors").is_file()


def test_raw_files_are_prepared_into_the_run_and_reused_on_resume(tmp_path: Path) -> None:
    files = _inputs(tmp_path)
    size = write_size(tmp_path / "micro.json")
    args = ["pretrain", "--data", files["jsonl.gz"], "--out", tmp_path / "t", "--model-size",
            size, "--seq-len", "16", *FAST, "--drift-tolerance", "0", *CPU]  # fmt: skip
    assert cli(*args).exit_code == 0
    store = json.loads((tmp_path / "t" / "data" / "manifest.json").read_text())
    assert store["sources"][0]["format"] == "jsonl.gz"
    resumed = cli(*args, "--resume")
    assert resumed.exit_code == 0, resumed.output
    files["jsonl.gz"].write_bytes(gzip.compress(b'{"text": "other"}\n'))
    other = _one_error_line(cli(*args, "--resume"))
    assert "already holds a store prepared from other data" in other


def test_the_default_gate_refuses_a_smoke_run_that_the_option_lets_through(
    tmp_path: Path,
) -> None:
    files = _inputs(tmp_path)
    size = write_size(tmp_path / "micro.json")
    args = ["pretrain", "--data", files["jsonl"], "--model-size", size, "--seq-len", "16",
            *FAST, "--lr", "1e-5", *CPU]  # fmt: skip
    gated = _one_error_line(cli(*args, "--out", tmp_path / "a"))
    assert "drift gate failed" in gated
    assert not (tmp_path / "a" / "model").exists()
    smoke = cli(*args, "--out", tmp_path / "b", "--drift-tolerance", "0")
    assert smoke.exit_code == 0, smoke.output
    assert (tmp_path / "b" / "model" / "model.safetensors").is_file()


def test_run_takes_data_and_prepares_it_once(tmp_path: Path) -> None:
    files = _inputs(tmp_path)
    result = cli("run", "--out", tmp_path / "r", "--data", files["jsonl"], "--teacher-size",
                 write_size(tmp_path / "micro.json"), "--student-size", tmp_path / "micro.json",
                 "--teacher-steps", "2", "--student-steps", "2", "--drift-tolerance", "0",
                 *CPU)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert f"data:     {tmp_path / 'r' / 'data'}" in result.output
    assert not (tmp_path / "r" / "teacher" / "data").exists()
    assert not (tmp_path / "r" / "cache" / "data").exists()


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("bad.jsonl", '{"text": "a"}\n{"text": "b"\n', r"bad.jsonl:2: malformed JSON"),
        ("field.jsonl", '{"text": "a"}\n{"body": "b"}\n', r"field.jsonl:2: no 'text' field"),
        ("missing.txt", None, r"cannot read data file .*missing.txt: No such file"),
    ],
)
def test_bad_inputs_give_one_line_and_exit_1(
    tmp_path: Path, tiny_run: TinyRun, name: str, content: str | None, expected: str
) -> None:
    if content is not None:
        (tmp_path / name).write_text(content, encoding="utf-8")
    line = _one_error_line(cli("prepare", "--data", tmp_path / name, "--out", tmp_path / "s"))
    assert re.search(expected, line), line
    assert not (tmp_path / "s").exists()
    assert [p.name for p in tmp_path.iterdir()] == ([name] if content is not None else [])
    size = write_size(tmp_path.parent / f"{tmp_path.name}-micro.json")
    pretrain = cli("pretrain", "--data", tmp_path / name, "--out", tmp_path / "t",
                   "--model-size", size, *CPU)  # fmt: skip
    assert re.search(expected, _one_error_line(pretrain))
    assert not (tmp_path / "t").exists()  # the run directory it created is gone again
    precompute = cli("precompute", "--teacher", tiny_run.teacher, "--data", tmp_path / name,
                     "--out", tmp_path / "c", "--seq-len", "16", *CPU)  # fmt: skip
    assert re.search(expected, _one_error_line(precompute))
    assert not (tmp_path / "c").exists()
