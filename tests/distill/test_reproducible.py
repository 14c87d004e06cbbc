"""Every file distill publishes depends only on its inputs: each publishing command, run twice
in two processes (with different hash seeds besides), writes the same bytes. Tensors compared
in one process cannot see a header whose key order changes with the process (safetensors keeps
metadata in a randomly seeded map) or a checkpoint holding an RNG state seeded from
os.urandom."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from distill.data import default_text
from distill.runs import content_digests
from tests.distill.conftest import write_size

# one process runs every publishing command in turn, as a user's shell would, in its cwd
SCRIPT = textwrap.dedent(
    """
    import contextlib, sys
    from distill.cli import main

    size = sys.argv[1]
    commands = [
        ["prepare", "--data", "corpus.txt", "--out", "store"],
        ["pretrain", "--data", "store", "--out", "teacher", "--model-size", size, "--epochs",
         "2", "--steps-per-epoch", "3", "--seq-len", "32", "--batch-size", "4",
         "--checkpoint-every", "2", "--quiet"],
        ["precompute", "--teacher", "teacher", "--data", "store", "--out", "cache",
         "--top-k", "8", "--seq-len", "32", "--quiet"],
        ["train", "--cache", "cache", "--out", "student", "--student-size", size, "--epochs",
         "2", "--steps-per-epoch", "3", "--batch-size", "4", "--checkpoint-every", "2",
         "--quiet"],
        ["onpolicy", "--student", "student", "--teacher", "teacher", "--data", "store", "--out",
         "onpolicy", "--prompt-len", "8", "--gen-len", "8", "--lambda", "0.5", "--epochs", "2",
         "--steps-per-epoch", "2", "--batch-size", "4", "--checkpoint-every", "1",
         "--drift-tolerance", "0", "--quiet"],
        ["export", "--model", "student", "--format", "hf", "--out", "hf"],
        ["report", "student", "teacher", "--out", "report"],
    ]
    for argv in commands:
        main.main(args=argv, standalone_mode=False)
    printed = {
        "generated.txt": ["generate", "--model", "student", "--max-new-tokens", "16",
                          "--temperature", "1"],
        "eval.json": ["eval", "--model", "onpolicy", "--teacher", "teacher", "--data", "store",
                      "--seq-len", "32", "--samples", "4", "--prompt-len", "8", "--gen-len", "8",
                      "--format", "json"],
    }
    for name, argv in printed.items():
        with open(name, "w", encoding="utf-8") as sink, contextlib.redirect_stdout(sink):
            main.main(args=argv, standalone_mode=False)
    """
)


def run_all(where: Path, hash_seed: str) -> dict[str, str]:
    where.mkdir()
    (where / "corpus.txt").write_bytes(default_text()[:20_000])
    size = write_size(where.parent / f"size-{hash_seed}.json")
    env = {**os.environ, "PYTHONHASHSEED": hash_seed}
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(size)],
        cwd=where,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return content_digests(where)


def test_every_published_file_has_the_same_bytes_in_another_process(tmp_path: Path) -> None:
    first = run_all(tmp_path / "one", "1")
    second = run_all(tmp_path / "two", "2")
    expected = {
        "store/tokens.bin",
        "teacher/model/model.safetensors",
        "teacher/checkpoint.pt",
        "cache/teacher_logits/manifest.json",
        "student/student/model.safetensors",
        "student/checkpoint.pt",
        "student/metadata.json",
        "hf/model.safetensors",
        "report/report.html",
        "report/loss.png",
        "generated.txt",
        "onpolicy/student/model.safetensors",
        "onpolicy/checkpoint.pt",
        "onpolicy/metadata.json",
        "eval.json",
    }
    assert expected <= set(first), sorted(expected - set(first))
    assert first.keys() == second.keys()
    differ = sorted(name for name in first if first[name] != second[name])
    assert not differ, f"different bytes in another process: {differ}"
