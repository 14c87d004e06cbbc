"""Wires pv's mutant mechanism into the checks: every check gets an autouse fixture that
fails on an undefined mutant name and, under `PV_MUTANT=name`, applies that mutant while
(only) the checks that name it run. See pv/binding/mutants.py and falsify/mutants.py."""

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
from pv.binding import mutants as pv_mutants


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    pv_mutants.keep_only_mutant_checks(config, items)


@pytest.fixture(scope="session", autouse=True)
def _pv_session_mutant() -> Iterator[str | None]:
    with pv_mutants.session_scope(REGISTRY) as applied:
        yield applied


@pytest.fixture(autouse=True)
def _pv_mutant(request: pytest.FixtureRequest, _pv_session_mutant: str | None) -> str | None:
    return pv_mutants.activate(request, REGISTRY, _pv_session_mutant)


# --- shared engine runs for falsify/test_apr_cli_distill_train_v1*.py ----------------------
# Built once per session (per xdist worker), through the real CLI, before any check-scoped
# mutant is applied: every mutant breaks the stage its check runs, never these fixtures.

MICRO_SIZE = {"n_layer": 1, "n_head": 2, "n_embd": 32, "block_size": 64}
MICRO_SEQ = "32"
# FALSIFY-009's pair: a teacher ~4x the student, the student small enough for 3 seeds x 2 runs
TEACHER_SIZE = {"n_layer": 2, "n_head": 4, "n_embd": 128, "block_size": 64}
STUDENT_SIZE = {"n_layer": 1, "n_head": 2, "n_embd": 48, "block_size": 64}
E2E_SEQ = "64"
QUIET_CPU = ("--device", "cpu", "--quiet")


@dataclass(frozen=True, slots=True, kw_only=True)
class EngineRun:
    """A teacher pretrained by `distill pretrain`, and its cache from `distill precompute`."""

    root: Path
    data_args: tuple[str, ...]  # the --data options the teacher was trained on (() = embedded)
    seq_len: str
    size_file: Path  # the student's size (a JSON GPT config)
    teacher: Path
    cache: Path


def options(**values: object) -> list[str]:
    """`options(seq_len=32, out=p)` -> ["--seq-len", "32", "--out", "p"]: CLI options from
    keywords. The command words stay literal at each call, where `pv drift` reads them."""
    return [
        word for key, value in values.items() for word in (f"--{key.replace('_', '-')}", str(value))
    ]


def succeeded(result: Result) -> Result:
    assert result.exit_code == 0, f"exit {result.exit_code}: {result.output}{result.exception!r}"
    return result


def _sized(path: Path, fields: dict[str, int]) -> Path:
    path.write_text(json.dumps(fields), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def micro_run(tmp_path_factory: pytest.TempPathFactory) -> EngineRun:
    """A micro teacher on 40 kB of the embedded corpus: fast, for the per-stage checks."""
    root = tmp_path_factory.mktemp("micro_run")
    data_file = root / "corpus.txt"
    data_file.write_bytes(default_text()[:40_000])
    size = _sized(root / "micro.json", MICRO_SIZE)
    teacher, cache = root / "teacher", root / "cache"
    common = options(data=data_file, seq_len=MICRO_SEQ)
    schedule = options(epochs=1, steps_per_epoch=30, batch_size=8, warmup_steps=2)
    runner = CliRunner()
    succeeded(
        runner.invoke(
            main,
            ["pretrain", *options(out=teacher, model_size=size), *common, *schedule, *QUIET_CPU],
        )
    )
    succeeded(
        runner.invoke(
            main,
            ["precompute", *options(teacher=teacher, out=cache, top_k=8), *common, *QUIET_CPU],
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
    distilled and the from-scratch students read exactly the same windows. 200 steps: at 120
    the teacher was too weak to win on every seed (seed 1 lost by 0.04)."""
    root = tmp_path_factory.mktemp("embedded_run")
    teacher_size = _sized(root / "teacher.json", TEACHER_SIZE)
    teacher, cache = root / "teacher", root / "cache"
    schedule = options(epochs=1, steps_per_epoch=200, batch_size=16, warmup_steps=10)
    runner = CliRunner()
    succeeded(
        runner.invoke(
            main,
            [
                "pretrain",
                *options(out=teacher, model_size=teacher_size, seq_len=E2E_SEQ),
                *schedule,
                *QUIET_CPU,
            ],
        )
    )
    succeeded(
        runner.invoke(
            main,
            [
                "precompute",
                *options(teacher=teacher, out=cache, seq_len=E2E_SEQ, top_k=16),
                *QUIET_CPU,
            ],
        )
    )
    return EngineRun(
        root=root,
        data_args=(),
        seq_len=E2E_SEQ,
        size_file=_sized(root / "student.json", STUDENT_SIZE),
        teacher=teacher,
        cache=cache,
    )


@pytest.fixture(scope="session")
def onpolicy_student(embedded_run: EngineRun, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A student distilled offline from FALSIFY-009's teacher until its samples are close to
    the teacher's (300 steps): what `distill onpolicy` continues."""
    out = tmp_path_factory.mktemp("onpolicy_student") / "student"
    schedule = options(epochs=1, steps_per_epoch=300, batch_size=16)
    train = options(cache=embedded_run.cache, out=out, student_size=embedded_run.size_file)
    succeeded(CliRunner().invoke(main, ["train", *train, *schedule, *QUIET_CPU]))
    return out


@pytest.fixture(scope="session")
def micro_student(micro_run: EngineRun, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A micro student distilled from the micro teacher's cache (20 steps): fast, for the
    on-policy checks that need a student and a teacher that differ, not good ones."""
    out = tmp_path_factory.mktemp("micro_student") / "student"
    schedule = options(epochs=1, steps_per_epoch=20, batch_size=8)
    train = options(cache=micro_run.cache, out=out, student_size=micro_run.size_file)
    succeeded(CliRunner().invoke(main, ["train", *train, *schedule, *QUIET_CPU]))
    return out
