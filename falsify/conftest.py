"""Wires pv's mutant mechanism into the checks: every check gets an autouse fixture that
fails on an undefined mutant name and, under `PV_MUTANT=name`, applies that mutant while
(only) the checks that name it run. See pv/mutants.py and falsify/mutants.py."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from distill.cli import main
from distill.data import default_text
from falsify.mutants import REGISTRY
from pv import mutants as pv_mutants


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    pv_mutants.keep_only_mutant_checks(config, items)


@pytest.fixture(scope="session", autouse=True)
def _pv_session_mutant() -> Iterator[str | None]:
    with pv_mutants.session_scope(REGISTRY) as applied:
        yield applied


@pytest.fixture(autouse=True)
def _pv_mutant(request: pytest.FixtureRequest, _pv_session_mutant: str | None) -> str | None:
    return pv_mutants.activate(request, REGISTRY, _pv_session_mutant)


# --- shared engine runs for falsify/test_apr_cli_distill_train_v1.py -----------------------
# Built once per session (per xdist worker), through the real CLI, before any check-scoped
# mutant is applied: every mutant breaks the stage its check runs, never these fixtures.

MICRO_SIZE = {"n_layer": 1, "n_head": 2, "n_embd": 32, "block_size": 64}
MICRO_SEQ = "32"
# FALSIFY-009's pair: a teacher ~4x the student, the student small enough for 3 seeds x 2 runs
TEACHER_SIZE = {"n_layer": 2, "n_head": 4, "n_embd": 128, "block_size": 64}
STUDENT_SIZE = {"n_layer": 1, "n_head": 2, "n_embd": 48, "block_size": 64}
E2E_SEQ = "64"


@dataclass(frozen=True, slots=True, kw_only=True)
class EngineRun:
    """A teacher pretrained by `distill pretrain`, and its cache from `distill precompute`."""

    root: Path
    data_args: tuple[str, ...]  # the --data options the teacher was trained on ("" = embedded)
    seq_len: str
    size_file: Path  # the student's size (a JSON GPT config)
    teacher: Path
    cache: Path


def _ok(result: Result) -> Result:
    assert result.exit_code == 0, f"exit {result.exit_code}: {result.output}{result.exception!r}"
    return result


@pytest.fixture(scope="session")
def micro_run(tmp_path_factory: pytest.TempPathFactory) -> EngineRun:
    """A micro teacher on 40 kB of the embedded corpus: fast, for the per-stage checks."""
    root = tmp_path_factory.mktemp("micro_run")
    data_file = root / "corpus.txt"
    data_file.write_bytes(default_text()[:40_000])
    size = root / "micro.json"
    size.write_text(json.dumps(MICRO_SIZE), encoding="utf-8")
    runner = CliRunner()
    teacher, cache = root / "teacher", root / "cache"
    _ok(
        runner.invoke(
            main,
            [
                "pretrain",
                "--out",
                str(teacher),
                "--data",
                str(data_file),
                "--model-size",
                str(size),
                "--seq-len",
                MICRO_SEQ,
                "--epochs",
                "1",
                "--steps-per-epoch",
                "30",
                "--batch-size",
                "8",
                "--warmup-steps",
                "2",
                "--device",
                "cpu",
                "--quiet",
            ],
        )
    )
    _ok(
        runner.invoke(
            main,
            [
                "precompute",
                "--teacher",
                str(teacher),
                "--out",
                str(cache),
                "--data",
                str(data_file),
                "--seq-len",
                MICRO_SEQ,
                "--top-k",
                "8",
                "--device",
                "cpu",
                "--quiet",
            ],
        )
    )
    return EngineRun(
        root=root,
        data_args=("--data", str(data_file)),
        seq_len=MICRO_SEQ,
        size_file=size,
        teacher=teacher,
        cache=cache,
    )


@pytest.fixture(scope="session")
def embedded_run(tmp_path_factory: pytest.TempPathFactory) -> EngineRun:
    """FALSIFY-009's teacher: the whole embedded corpus (no --data), cached in full, so the
    distilled and the from-scratch students read exactly the same windows."""
    root = tmp_path_factory.mktemp("embedded_run")
    teacher_size, student_size = root / "teacher.json", root / "student.json"
    teacher_size.write_text(json.dumps(TEACHER_SIZE), encoding="utf-8")
    student_size.write_text(json.dumps(STUDENT_SIZE), encoding="utf-8")
    runner = CliRunner()
    teacher, cache = root / "teacher", root / "cache"
    _ok(
        runner.invoke(
            main,
            [
                "pretrain",
                "--out",
                str(teacher),
                "--model-size",
                str(teacher_size),
                "--seq-len",
                E2E_SEQ,
                "--epochs",
                "1",
                "--steps-per-epoch",
                "200",
                "--batch-size",
                "16",
                "--warmup-steps",
                "10",
                "--device",
                "cpu",
                "--quiet",
            ],
        )
    )
    _ok(
        runner.invoke(
            main,
            [
                "precompute",
                "--teacher",
                str(teacher),
                "--out",
                str(cache),
                "--seq-len",
                E2E_SEQ,
                "--top-k",
                "16",
                "--device",
                "cpu",
                "--quiet",
            ],
        )
    )
    return EngineRun(
        root=root,
        data_args=(),
        seq_len=E2E_SEQ,
        size_file=student_size,
        teacher=teacher,
        cache=cache,
    )
