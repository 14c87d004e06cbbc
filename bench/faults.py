"""Kill at any moment: run a distill stage in a child process, SIGKILL it at a random moment
of its run (drawn from a fixed seed), recover the way a user would (rerun, or `--resume` when
the run began) and check that every file of the end state has the sha256 of an uninterrupted
run's. The training stages checkpoint every 2 steps besides each epoch's end.

`python -m bench.faults [--kills N] [--seed S]` prints the table (kills, recovered,
identical, lost) per stage; `make faults` runs it with 50 kills per stage. The tests run the
same harness with 5 kills per stage. Children fork from a server that has torch imported
already, so a run costs its work, not an interpreter start.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import os
import random
import resource
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import safetensors.torch  # noqa: F401 - imported here so that forked children need not
import torch
import torch._dynamo

import distill.cli
import distill.stages  # noqa: F401
from distill.durable import PARTIAL, VERSION, live_version
from distill.runs import content_digests

LONG = True  # the kill harness: `make faults`, not `make bench`
MICRO = {"n_layer": 1, "n_head": 2, "n_embd": 32, "block_size": 64}
SEQ = ["--seq-len", "32", "--device", "cpu", "--quiet"]
TRAIN = ["--epochs", "3", "--steps-per-epoch", "3", "--batch-size", "4", "--warmup-steps", "1"]
STEPS = ["--checkpoint-every", "2"]  # step checkpoints mid-epoch, besides the epoch ones


def _child(argv: list[str], log: str, fsize: int, pipe: Any = None) -> None:
    """The body of a child process: the `distill` CLI on `argv`, output into `log` (or into
    `pipe`: under a file-size limit the log file itself would be cut short)."""
    fd = pipe.fileno() if pipe is not None else os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    if fsize:  # a full disk for every file this process writes past `fsize` bytes
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG from write(), not a kill
        resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, resource.RLIM_INFINITY))
    torch.set_num_threads(1)  # equal runs must reduce in the same order to be bitwise equal
    from distill.cli import main

    main(args=argv, prog_name="distill")


def hold_lock(run_dir: str, ready: Any) -> None:
    """The body of a child that holds `run_dir`'s lock until it is killed."""
    from distill import runlock

    with runlock.hold(Path(run_dir)):
        ready.set()
        while True:  # no Event: one whose waiter is killed deadlocks the next set()
            signal.pause()


def holder(run_dir: Path) -> Any:
    """A live child holding `run_dir`'s lock (the caller kills it)."""
    ctx = _context()
    ready = ctx.Event()
    proc = ctx.Process(target=hold_lock, args=(str(run_dir), ready))
    proc.start()
    if not ready.wait(120):
        raise RuntimeError("the lock holder did not start")
    return proc


def _context() -> Any:
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["bench.faults"])
    return ctx


@dataclass(frozen=True, slots=True, kw_only=True)
class Outcome:
    code: int  # the exit status; -9 when killed
    output: str
    seconds: float


def start(argv: Sequence[str], log: Path, *, fsize: int = 0, pipe: Any = None) -> Any:
    """A `distill` child process, started (the caller joins or kills it)."""
    proc = _context().Process(target=_child, args=(list(argv), str(log), fsize, pipe))
    proc.start()
    return proc


def run(
    argv: Sequence[str], log: Path, *, kill_after: float | None = None, fsize: int = 0
) -> Outcome:
    """Run `distill argv` in a child; SIGKILL it after `kill_after` seconds if still running."""
    log.write_bytes(b"")  # exists even when a child dies before it writes to it
    reader, writer = _context().Pipe(duplex=False) if fsize else (None, None)
    began = time.perf_counter()
    proc = start(argv, log, fsize=fsize, pipe=writer)
    if writer is not None:
        writer.close()  # the child holds the only writing end: EOF when it ends
        with log.open("ab") as out:
            for block in iter(lambda: os.read(reader.fileno(), 1 << 16), b""):
                out.write(block)
    proc.join(timeout=kill_after)
    if proc.is_alive():
        with contextlib.suppress(ProcessLookupError):  # it may end between the two calls
            os.kill(proc.pid, signal.SIGKILL)
        proc.join()
    return Outcome(
        code=int(proc.exitcode),
        output=log.read_text(errors="replace"),
        seconds=time.perf_counter() - began,
    )


def leftovers(run_dir: Path, published: Sequence[str] = ()) -> list[str]:
    """Temp files and unpublished versions a reader could trip over: there must be none."""
    live = {live_version(run_dir / p) for p in published}
    return sorted(
        e.name
        for e in run_dir.iterdir()
        if PARTIAL in e.name or (VERSION in e.name and e.name not in live)
    )


def end_state(published: Sequence[str] = ()) -> Callable[[Path], dict[str, Any]]:
    """What a stage leaves in its directory: the sha256 of every file its inputs fix (all of
    them, checkpoints, metadata less its clock figures and models included; see
    distill.runs.content_digests), and no leftovers beside the `published` versions."""

    def state(run_dir: Path) -> dict[str, Any]:
        return {"files": content_digests(run_dir), "leftovers": leftovers(run_dir, published)}

    return state


@dataclass(frozen=True, slots=True, kw_only=True)
class Stage:
    """A stage under test: how to run it into a directory, recover it, and read its end."""

    name: str
    argv: Callable[[Path], list[str]]
    recover: Callable[[Path], list[str] | None]  # None: nothing to redo
    state: Callable[[Path], dict[str, Any]]


@dataclass(slots=True, kw_only=True)
class Tally:
    stage: str
    runs: int = 0
    kills: int = 0
    recovered: int = 0
    identical: int = 0
    lost: int = 0
    problems: list[str] = field(default_factory=list)


def fixtures(root: Path) -> tuple[Path, Path]:
    """A micro teacher (trained on the raw text, prepared on the fly), a token store of the
    same text, and the teacher's cache of it, made once by the CLI itself: (teacher, cache)."""
    corpus, size, prepared = root / "corpus.txt", root / "micro.json", root / "store"
    from distill.data import default_text

    corpus.write_bytes(default_text()[:40_000])
    size.write_text(json.dumps(MICRO))
    teacher, cache = root / "teacher", root / "cache"
    steps = ["--epochs", "1", "--steps-per-epoch", "10", "--batch-size", "4"]
    for argv in (
        ["prepare", "--data", str(corpus), "--out", str(prepared)],
        ["pretrain", "--out", str(teacher), "--model-size", str(size), *steps, "--data",
         str(corpus), *SEQ],
        ["precompute", "--teacher", str(teacher), "--out", str(cache), "--top-k", "8", "--data",
         str(prepared), *SEQ],
    ):  # fmt: skip
        done = run(argv, root / "setup.log")
        if done.code != 0:
            raise RuntimeError(f"fixture {argv[0]} failed: {done.output[-2000:]}")
    return teacher, cache


def stages(root: Path) -> list[Stage]:
    teacher, cache = fixtures(root)
    corpus, size = root / "corpus.txt", root / "micro.json"

    def train_argv(out: Path) -> list[str]:
        return ["train", "--cache", str(cache), "--out", str(out), "--student-size", str(size),
                *TRAIN, *STEPS, "--device", "cpu", "--quiet"]  # fmt: skip

    def pretrain_argv(out: Path) -> list[str]:
        return ["pretrain", "--data", str(root / "store"), "--out", str(out), "--model-size",
                str(size), *TRAIN, *STEPS, *SEQ]  # fmt: skip

    def onpolicy_argv(out: Path) -> list[str]:
        return ["onpolicy", "--student", str(teacher), "--teacher", str(teacher), "--data",
                str(root / "store"), "--out", str(out), "--prompt-len", "8", "--gen-len", "8",
                "--lambda", "0.5", "--drift-tolerance", "0", *TRAIN, *STEPS, "--device", "cpu",
                "--quiet"]  # fmt: skip

    def precompute_argv(out: Path) -> list[str]:
        return ["precompute", "--teacher", str(teacher), "--out", str(out), "--top-k", "8",
                "--data", str(root / "store"), "--batch-size", "8", *SEQ]  # fmt: skip

    def prepare_argv(out: Path) -> list[str]:
        return ["prepare", "--data", str(corpus), "--out", str(out / "store")]

    def requeue(argv: Callable[[Path], list[str]]) -> Callable[[Path], list[str]]:
        """A requeue script's rerun: with --resume wherever the run began (a kill before its
        first checkpoint leaves its initial weights, and the resume starts it again)."""
        began = ("checkpoint.pt", "initial_model.pt")
        return lambda out: [
            *argv(out),
            *(["--resume"] if any((out / f).is_file() for f in began) else []),
        ]

    return [
        Stage(name="train", argv=train_argv, recover=requeue(train_argv),
              state=end_state(("student",))),
        Stage(name="pretrain", argv=pretrain_argv, recover=requeue(pretrain_argv),
              state=end_state(("model",))),
        Stage(name="onpolicy", argv=onpolicy_argv, recover=requeue(onpolicy_argv),
              state=end_state(("student",))),
        Stage(
            name="precompute",
            argv=precompute_argv,
            recover=lambda out: None if (out / "teacher_logits").exists() else precompute_argv(out),
            state=end_state(),
        ),
        Stage(
            name="prepare",
            argv=prepare_argv,
            recover=lambda out: None if (out / "store").exists() else prepare_argv(out),
            state=end_state(),
        ),
    ]  # fmt: skip


def hammer(stage: Stage, root: Path, *, kills: int, seed: int) -> Tally:
    """Kill `stage` `kills` times at moments drawn uniformly over an uninterrupted run's
    length (from `seed`), recover each, and compare its end state with the baseline's."""
    tally = Tally(stage=stage.name)
    base_dir = root / f"{stage.name}-base"
    base = run(stage.argv(base_dir), root / f"{stage.name}-base.log")
    if base.code != 0:
        raise RuntimeError(f"{stage.name} baseline failed: {base.output[-2000:]}")
    expected = stage.state(base_dir)
    # a second uninterrupted run: the same end state (else nothing here could be compared),
    # and, warm, the length of a run over which kill moments are drawn
    again_dir = root / f"{stage.name}-base2"
    warm = run(stage.argv(again_dir), root / f"{stage.name}-base2.log")
    if warm.code != 0 or stage.state(again_dir) != expected:
        raise RuntimeError(f"{stage.name}: two uninterrupted runs differ: {warm.output[-2000:]}")
    length = min(base.seconds, warm.seconds)
    rng = random.Random(seed)
    while tally.kills < kills and tally.runs < 4 * kills:  # a run may end before its moment
        n = tally.runs
        tally.runs += 1
        out, log = root / f"{stage.name}-{n}", root / f"{stage.name}-{n}.log"
        moment = rng.uniform(0.0, length)
        first = run(stage.argv(out), log, kill_after=moment)
        tally.kills += first.code == -signal.SIGKILL
        again = stage.recover(out) if first.code != 0 else None
        redo = run(again, log) if again is not None else None
        if redo is not None and redo.code != 0:
            tally.lost += 1
            tally.problems.append(f"{stage.name} kill {n} at {moment:.3f}s: {redo.output[-500:]}")
            continue
        tally.recovered += first.code != 0
        try:
            got = stage.state(out)
        except (OSError, ValueError, RuntimeError) as exc:
            tally.lost += 1
            tally.problems.append(f"{stage.name} kill {n}: unreadable end state: {exc}")
            continue
        tally.identical += got == expected
        if got != expected:
            moment_s = f"{stage.name} kill {n} at {moment:.3f}s"
            tally.problems.append(f"{moment_s}: end state differs: {differ(expected, got)}")
    return tally


def differ(expected: dict[str, Any], got: dict[str, Any]) -> str:
    """Which files (or leftovers) of an end state differ from the baseline's."""
    want, have = expected["files"], got["files"]
    names = sorted(k for k in want.keys() | have.keys() if want.get(k) != have.get(k))
    extra = got["leftovers"] if got["leftovers"] != expected["leftovers"] else []
    return ", ".join([*names, *(f"leftover {x}" for x in extra)])


def table(tallies: Sequence[Tally]) -> str:
    """runs = kills + runs that ended before their moment (those are compared too)."""
    head = ("stage", "runs", "kills", "ended first", "recovered", "identical", "lost")
    lines = ["{:12} {:>5} {:>6} {:>12} {:>10} {:>10} {:>5}".format(*head)]
    for t in tallies:
        row = (t.stage, t.runs, t.kills, t.runs - t.kills, t.recovered, t.identical, t.lost)
        lines.append("{:12} {:5d} {:6d} {:12d} {:10d} {:10d} {:5d}".format(*row))
    return "\n".join(lines)


def report(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.faults", description=__doc__)
    parser.add_argument("--kills", type=int, default=50, help="kills per stage")
    parser.add_argument("--seed", type=int, default=12)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="distill-faults-") as tmp:
        root = Path(tmp)
        tallies = [hammer(s, root, kills=args.kills, seed=args.seed) for s in stages(root)]
    print(table(tallies))
    for t in tallies:
        for problem in t.problems:
            print(f"  {problem}", file=sys.stderr)
    return int(any(t.identical != t.runs or t.lost for t in tallies))


if __name__ == "__main__":
    sys.exit(report())
