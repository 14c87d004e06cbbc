"""torchrun with 2 CPU processes (gloo): the same loss trajectory as one process on the same
global batch, one checkpoint, one metadata.json, and a sharded precompute byte-identical to
one process's."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from safetensors.torch import load_file

from distill.cli import main
from distill.distributed import World, local_slice
from distill.errors import ConfigError
from tests.distill.conftest import SEQ_LEN, TinyRun

TRAIN = ["--epochs", "2", "--steps-per-epoch", "3", "--batch-size", "4", "--warmup-steps", "1"]


def torchrun(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """`torchrun --standalone --nproc_per_node 2 -m distill ARGS` as a user types it."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node"]
    return subprocess.run(
        [*cmd, "2", "-m", "distill", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_two_processes_train_like_one_on_the_same_global_batch(
    tiny_run: TinyRun, tmp_path: Path
) -> None:
    common = ["train", "--cache", str(tiny_run.cache), "--student-size", str(tiny_run.size_file)]
    common += [*TRAIN, "--quiet", "--device", "cpu"]
    one = CliRunner().invoke(main, [*common, "--out", str(tmp_path / "one")])
    assert one.exit_code == 0, one.output
    two = torchrun([*common, "--out", str(tmp_path / "two")], cwd=tmp_path)
    assert two.returncode == 0, two.stderr[-2000:]
    assert two.stdout.count("model: ") == 1  # rank 0 speaks for the run, once
    meta = [json.loads((tmp_path / d / "metadata.json").read_text()) for d in ("one", "two")]
    assert [r["processes"] for r in meta[1]["epochs"]] == [2, 2]
    for a, b in zip(meta[0]["epochs"], meta[1]["epochs"], strict=True):
        for key in ("train_loss", "kl_loss", "ce_loss", "val_loss"):
            assert b[key] == pytest.approx(a[key], rel=1e-5), key
        assert b["tokens_seen"] == a["tokens_seen"]
    # one run directory, written once: no per-rank copies, no leftovers
    assert sorted(p.name for p in (tmp_path / "two").iterdir()) == sorted(
        p.name for p in (tmp_path / "one").iterdir()
    )
    w1 = load_file(str(tmp_path / "one" / "student" / "model.safetensors"))
    w2 = load_file(str(tmp_path / "two" / "student" / "model.safetensors"))
    for key in w1:
        torch.testing.assert_close(w2[key], w1[key], rtol=1e-4, atol=1e-5)


def test_sharded_precompute_writes_the_same_bytes_as_one_process(
    tiny_run: TinyRun, tmp_path: Path
) -> None:
    args = ["precompute", "--teacher", str(tiny_run.teacher), "--data", str(tiny_run.data_file)]
    args += ["--seq-len", str(SEQ_LEN), "--top-k", "8", "--quiet", "--device", "cpu"]
    env = {"OMP_NUM_THREADS": "1"}
    one = subprocess.run(
        [sys.executable, "-m", "distill", *args, "--out", str(tmp_path / "one")],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert one.returncode == 0, one.stderr
    two = torchrun([*args, "--out", str(tmp_path / "two")], cwd=tmp_path)
    assert two.returncode == 0, two.stderr[-2000:]
    a, b = tmp_path / "one" / "teacher_logits", tmp_path / "two" / "teacher_logits"
    names = sorted(p.name for p in a.iterdir())
    assert names == sorted(p.name for p in b.iterdir())
    assert sum(n.startswith("values-") for n in names) >= 2  # really split across ranks
    assert all((a / n).read_bytes() == (b / n).read_bytes() for n in names)


def test_each_rank_takes_its_own_even_share_of_a_global_batch() -> None:
    batch = list(range(8))
    shares = [local_slice(batch, World(rank=r, size=4)) for r in range(4)]
    assert shares == [[0, 1], [2, 3], [4, 5], [6, 7]]
    with pytest.raises(ConfigError, match="not divisible by 3"):
        local_slice(batch, World(rank=0, size=3))


def test_two_processes_run_on_policy_each_rank_sampling_its_share(
    tiny_run: TinyRun, tmp_path: Path
) -> None:
    args = ["onpolicy", "--student", str(tiny_run.teacher), "--teacher", str(tiny_run.teacher)]
    args += ["--data", str(tiny_run.data_file), "--prompt-len", "8", "--gen-len", "8"]
    args += [*TRAIN, "--lambda", "0.5", "--drift-tolerance", "0", "--quiet", "--device", "cpu"]
    two = torchrun([*args, "--out", str(tmp_path / "two")], cwd=tmp_path)
    assert two.returncode == 0, two.stderr[-2000:]
    meta = json.loads((tmp_path / "two" / "metadata.json").read_text())
    assert [r["processes"] for r in meta["epochs"]] == [2, 2]
    fractions = [r["on_policy_fraction"] for r in meta["epochs"]]
    assert all(0.0 <= f <= 1.0 for f in fractions)
    assert any(r["teacher_nll_of_samples"] for r in meta["epochs"])
