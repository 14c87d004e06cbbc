"""The `distill` command line: click options -> one frozen config -> the stage function.
DistillError subclasses (and, as a backstop, OS errors) become one-line errors with exit 1."""

from __future__ import annotations

import functools
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from distill import __version__
from distill.config import (
    ONPOLICY_SCHEDULE,
    SIZE_CHOICES,
    STUDENT_SCHEDULE,
    TEACHER_SCHEDULE,
    DataConfig,
    OnPolicyConfig,
    Plan,
    PrecomputeConfig,
    SampleConfig,
    Schedule,
    TrainConfig,
    check_value,
    knob_of,
)
from distill.errors import DistillError

F = TypeVar("F", bound=Callable[..., Any])
# What the engine imports; pv's base install has none of them (they are the `distill` extra).
ENGINE_MODULES = ("torch", "numpy", "safetensors", "tqdm")


def _refusals(func: F) -> F:
    """Turn a DistillError into `error: <message>` on stderr and exit 1; never a traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ImportError as exc:  # pv's base install has no engine: name the extra
            missing = (exc.name or "").split(".")[0]
            if missing not in ENGINE_MODULES:
                raise
            click.echo(
                f"error: distill needs its extra: pip install 'pv-distill[distill]' "
                f"(cannot import {missing}: {exc})",
                err=True,
            )
            sys.exit(1)
        except DistillError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(1)
        except OSError as exc:  # a disk or path problem the stages did not foresee
            click.echo(f"error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), err=True)
            sys.exit(1)

    return wrapper  # type: ignore[return-value]


class KnobOption(click.Option):
    """An option built from a config knob (`distill.config.knob`): its default, type, choices
    and the range its help states are the field's, and the config validates the value."""

    def __init__(self, *args: Any, config: type, field: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.config, self.field = config, field


def _knob(
    config: type, name: str, *decls: str, default: Any = None, help_text: str | None = None
) -> Callable[[F], F]:
    """The option for knob `config.name`: `--name-with-dashes` unless `decls` say otherwise;
    `default` (a stage's schedule) and `help_text` (may name `{range}`) override the field's."""
    spec, field_default = knob_of(config, name)
    value = field_default if default is None else default
    return click.option(
        *(decls or (f"--{name.replace('_', '-')}",)),
        cls=KnobOption,
        config=config,
        field=name,
        default=value,
        show_default=True,
        type=click.Choice(spec.choices) if spec.choices else type(value),
        help=spec.describe(help_text),
    )


def _group(*options: Callable[[F], F]) -> Callable[[F], F]:
    """Several options as one decorator, in the order `--help` lists them."""

    def deco(func: F) -> F:
        for option in reversed(options):
            func = option(func)
        return func

    return deco


_device = click.option(
    "--device",
    type=click.Choice(["auto", "cpu", "cuda"]),
    default="auto",
    show_default=True,
    help="Where to run; bf16 autocast is used on CUDA.",
)
_common = _group(
    _device,
    click.option("--quiet", is_flag=True, help="No progress bar (it is also off when not a tty)."),
)


def _out(help_text: str) -> Callable[[F], F]:
    """The required --out directory every stage writes into."""
    return click.option("--out", required=True, type=click.Path(path_type=Path), help=help_text)


def _data_paths(
    help_text: str, *, required: bool = False, dest: str = "data_paths"
) -> Callable[[F], F]:
    """--data: a prepared store, or files, folders or globs (repeatable)."""
    return click.option(
        "--data", dest, multiple=True, required=required, type=click.Path(path_type=Path),
        help=help_text,
    )  # fmt: skip


def _dir(*decls: str, help_text: str, required: bool = True) -> Callable[[F], F]:
    """A directory the stage reads: a model, a run or a cache."""
    return click.option(
        *decls, required=required, default=None, type=click.Path(path_type=Path), help=help_text
    )


_model = _dir(
    "--model", "model_path", help_text="Model directory, or a run directory that holds one."
)


CORPUS_HELP = (
    "A prepared store, or text/JSONL/Parquet files, folders or globs (repeatable; prepared "
    "into OUT/data); default: the embedded pydoc corpus."
)
_val_fraction = _knob(DataConfig, "val_fraction")
_data = _group(_data_paths(CORPUS_HELP), _knob(DataConfig, "seq_len"), _val_fraction)
_window = _group(_knob(OnPolicyConfig, "prompt_len"), _knob(OnPolicyConfig, "gen_len"))


def _divergence(default: str) -> Callable[[F], F]:
    """--temperature, --divergence, --beta and --skew: the divergence of train and onpolicy."""
    return _group(
        _knob(TrainConfig, "temperature"),
        _knob(TrainConfig, "divergence", default=default),
        _knob(TrainConfig, "beta"),
        _knob(TrainConfig, "skew"),
    )


def _schedule(defaults: Schedule) -> Callable[[F], F]:
    """The optimizer's schedule, the seed, the drift gate and the checkpoints of a stage."""
    return _group(
        _knob(TrainConfig, "epochs", default=defaults.epochs),
        _knob(TrainConfig, "steps_per_epoch", default=defaults.steps_per_epoch),
        _knob(TrainConfig, "batch_size"),
        _knob(TrainConfig, "grad_accum"),
        _knob(TrainConfig, "lr", default=defaults.lr),
        _knob(TrainConfig, "warmup_steps"),
        _knob(TrainConfig, "seed"),
        _knob(TrainConfig, "drift_tolerance", default=defaults.drift_tolerance),
        click.option(
            "--resume", is_flag=True, help="Continue the run in --out from its last checkpoint."
        ),
        click.option(
            "--checkpoint-every",
            default=0,
            show_default=True,
            type=click.IntRange(min=0),
            help="Also checkpoint every N optimizer steps within an epoch (0: at epoch "
            "ends only); a resume from any checkpoint ends with an uninterrupted run's bytes.",
        ),
    )


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="distill")
def main() -> None:
    """Knowledge distillation for causal LMs: pretrain, precompute, train, generate, run."""


@main.command()
@_out("Run directory to create (the model lands in OUT/model).")
@_knob(Plan, "teacher_size", "--model-size", help_text=f"Model size: {SIZE_CHOICES}.")
@_data
@_schedule(TEACHER_SCHEDULE)
@_common
@_refusals
def pretrain(
    out: Path,
    model_size: str,
    data_paths: tuple[Path, ...],
    seq_len: int,
    val_fraction: float,
    device: str,
    quiet: bool,
    resume: bool,
    checkpoint_every: int,
    **kw: Any,
) -> None:
    """Train a model from scratch with cross-entropy (the teacher, or the baseline)."""
    from distill import stages

    outcome = stages.pretrain(
        out_dir=out,
        data_paths=data_paths,
        size=model_size,
        data_cfg=DataConfig(seq_len=seq_len, val_fraction=val_fraction),
        cfg=TrainConfig(alpha=0.0, **kw),
        device=device,
        resume=resume,
        quiet=quiet,
        checkpoint_every=checkpoint_every,
    )
    _report(outcome.model_dir, outcome.metadata)


@main.command()
@_data_paths(
    "Text, .jsonl or .parquet files (or .gz of each), folders or globs (repeatable).",
    required=True,
)
@_out("Directory to create for the store (tokens.bin + manifest.json).")
@_dir(
    "--tokenizer",
    "tokenizer_dir",
    help_text="A local Hugging Face model or tokenizer directory; default: bytes (the "
    "built-in GPT).",
    required=False,
)
@click.option(
    "--text-field",
    default="text",
    show_default=True,
    help="The JSONL field or Parquet column that holds each document's text.",
)
@_knob(
    DataConfig, "val_fraction",
    help_text="Tail of the token stream held out for validation, in {range}.",
)  # fmt: skip
@_refusals
def prepare(
    data_paths: tuple[Path, ...],
    out: Path,
    tokenizer_dir: Path | None,
    text_field: str,
    val_fraction: float,
) -> None:
    """Tokenise files in a stream into a memory-mapped token store every stage reads."""
    from distill import store

    began = time.perf_counter()
    path = store.prepare(
        data_paths, out, tokenizer_dir=tokenizer_dir, text_field=text_field,
        val_fraction=val_fraction,
    )  # fmt: skip
    seconds = max(time.perf_counter() - began, 1e-9)
    manifest = store.open_store(path, verify=False).manifest
    split, read = manifest["split"], sum(s["bytes"] for s in manifest["sources"]) / 1e6
    _say(f"store: {path}")
    _say(
        f"tokens: {manifest['n_tokens']:,} ({split['train_tokens']:,} train, "
        f"{split['val_tokens']:,} validation; {manifest['dtype']}) from "
        f"{len(manifest['sources'])} file(s)"
    )
    _say(f"read: {read:,.1f} MB in {seconds:.1f} s ({read / seconds:,.1f} MB/s)")


@main.command()
@_dir("--teacher", help_text="Teacher model directory, or a run directory that holds one.")
@_out("Directory to write OUT/teacher_logits/ into.")
@_knob(PrecomputeConfig, "top_k")
@_knob(PrecomputeConfig, "batch_size")
@_knob(PrecomputeConfig, "max_windows")
@_data
@_common
@_refusals
def precompute(
    teacher: Path,
    out: Path,
    top_k: int,
    batch_size: int,
    max_windows: int,
    data_paths: tuple[Path, ...],
    seq_len: int,
    val_fraction: float,
    device: str,
    quiet: bool,
) -> None:
    """Run the frozen teacher once and cache its logits (byte-deterministic)."""
    from distill import stages

    path = stages.precompute(
        teacher_path=teacher,
        out_dir=out,
        data_paths=data_paths,
        data_cfg=DataConfig(seq_len=seq_len, val_fraction=val_fraction),
        cfg=PrecomputeConfig(top_k=top_k, batch_size=batch_size, max_windows=max_windows),
        device=device,
        quiet=quiet,
    )
    _say(f"cache: {path}")


@main.command("train")
@_dir("--cache", help_text="Directory holding teacher_logits/ (made by precompute).")
@_out("Run directory to create (the student lands in OUT/student).")
@_dir(
    "--student",
    help_text="Initial student: a model or run directory (default: a fresh GPT).",
    required=False,
)
@_knob(Plan, "student_size", help_text=f"Size of a fresh student: {SIZE_CHOICES}.")
@_knob(TrainConfig, "alpha")
@_divergence("forward_kl")
@_knob(TrainConfig, "tail")
@_schedule(STUDENT_SCHEDULE)
@_common
@_refusals
def train_cmd(
    cache: Path,
    out: Path,
    student: Path | None,
    student_size: str,
    device: str,
    quiet: bool,
    resume: bool,
    checkpoint_every: int,
    **kw: Any,
) -> None:
    """Distil a student from cached teacher logits (never runs the teacher)."""
    from distill import stages

    cfg = TrainConfig(**kw)
    outcome = stages.distill(
        cache_path=cache,
        out_dir=out,
        student_path=student,
        size=student_size,
        cfg=cfg,
        device=device,
        resume=resume,
        quiet=quiet,
        checkpoint_every=checkpoint_every,
    )
    _report(outcome.model_dir, outcome.metadata)


@main.command("onpolicy")
@_dir(
    "--student",
    help_text="The student to continue: a model or run directory (e.g. distill train's OUT).",
)
@_dir(
    "--teacher",
    help_text="The live teacher: a model or run directory sharing the student's tokenizer.",
)
@_out("Run directory to create (the student lands in OUT/student).")
@_data_paths(f"Where the prompts come from. {CORPUS_HELP}")
@_val_fraction
@_window
@_knob(OnPolicyConfig, "lmbda", "--lambda", "lmbda")
@_knob(OnPolicyConfig, "objective")
@_knob(OnPolicyConfig, "gen_temperature")
@_divergence("reverse_kl")
@_schedule(ONPOLICY_SCHEDULE)
@_common
@_refusals
def onpolicy_cmd(
    student: Path,
    teacher: Path,
    out: Path,
    data_paths: tuple[Path, ...],
    val_fraction: float,
    prompt_len: int,
    gen_len: int,
    lmbda: float,
    objective: str,
    gen_temperature: float,
    device: str,
    quiet: bool,
    resume: bool,
    checkpoint_every: int,
    **kw: Any,
) -> None:
    """Continue a student on its own samples, scored token by token by a live teacher
    (on-policy distillation, GKD)."""
    from distill import stages

    policy = OnPolicyConfig(
        lmbda=lmbda,
        objective=objective,
        prompt_len=prompt_len,
        gen_len=gen_len,
        gen_temperature=gen_temperature,
    )
    outcome = stages.on_policy(
        teacher_path=teacher,
        student_path=student,
        out_dir=out,
        data_paths=data_paths,
        val_fraction=val_fraction,
        cfg=TrainConfig(**kw),
        policy=policy,
        device=device,
        resume=resume,
        quiet=quiet,
        checkpoint_every=checkpoint_every,
    )
    _report(outcome.model_dir, outcome.metadata)
    nll = outcome.metadata["epochs"][-1].get("teacher_nll_of_samples")
    if nll is not None:
        _say(f"teacher NLL of the student's samples: {nll:.4f} per token (last epoch)")


@main.command("eval")
@_model
@_data_paths(
    "A prepared store, or text/JSONL/Parquet files, folders or globs (repeatable); default: "
    "the embedded pydoc corpus. Its validation split is read."
)
@_dir(
    "--teacher",
    help_text="A teacher (sharing the model's tokenizer) to score the model's own samples.",
    required=False,
)
@_knob(SampleConfig, "samples")
@_knob(SampleConfig, "seed")
@_knob(DataConfig, "seq_len", help_text="Tokens per validation window, in {range}.")
@_knob(TrainConfig, "eval_windows")
@_window
@_val_fraction
@click.option(
    "--format",
    "fmt",
    default="text",
    show_default=True,
    type=click.Choice(["text", "json"]),
    help="Output format.",
)
@_device
@_refusals
def eval_cmd(
    model_path: Path,
    data_paths: tuple[Path, ...],
    teacher: Path | None,
    samples: int,
    seed: int,
    seq_len: int,
    eval_windows: int,
    prompt_len: int,
    gen_len: int,
    val_fraction: float,
    fmt: str,
    device: str,
) -> None:
    """A model's validation cross-entropy and, with --teacher, the teacher's mean NLL per token
    of the model's own samples (the exposure-bias measure)."""
    import json

    from distill import stages

    result = stages.evaluate(
        model_path=model_path,
        data_paths=data_paths,
        teacher_path=teacher,
        samples=samples,
        seed=seed,
        seq_len=seq_len,
        eval_windows=eval_windows,
        prompt_len=prompt_len,
        gen_len=gen_len,
        val_fraction=val_fraction,
        device=device,
    )
    if fmt == "json":
        _say(json.dumps(result, indent=2, sort_keys=True))
        return
    _say(f"model: {result['model']}")
    _say(f"val_loss: {result['val_loss']:.4f} ({result['val_windows']} windows of {seq_len})")
    if "teacher_nll_of_samples" in result:
        _say(
            f"teacher NLL of samples: {result['teacher_nll_of_samples']:.4f} per token "
            f"({samples} samples of {gen_len} tokens, teacher {result['teacher']})"
        )
        _say(
            f"model NLL of samples:   {result['model_nll_of_samples']:.4f} per token; "
            f"reverse KL estimate {result['reverse_kl_of_samples']:.4f}"
        )


@main.command()
@_model
@click.option("--prompt", default="The ", show_default=True, help="Text to continue.")
@_knob(SampleConfig, "max_new_tokens")
@_knob(SampleConfig, "temperature")
@_knob(SampleConfig, "seed")
@_device
@_refusals
def generate(
    model_path: Path, prompt: str, max_new_tokens: int, temperature: float, seed: int, device: str
) -> None:
    """Sample text from a trained model."""
    from distill import stages

    click.echo(
        stages.generate(
            model_path=model_path,
            prompt=prompt,
            max_new_tokens=max_new_tokens,
            temperature=temperature,
            seed=seed,
            device=device,
        )
    )


@main.command()
@_dir(
    "--model",
    "model_path",
    help_text="A built-in model directory, or a run directory that holds one.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["hf"]),
    default="hf",
    show_default=True,
    help="hf: a GPT-2 directory with a byte tokenizer that transformers loads as it is.",
)
@_out("Directory to create for the exported model.")
@_refusals
def export(model_path: Path, fmt: str, out: Path) -> None:
    """Write a built-in model in a standard format other tools load (GPT-2 for transformers)."""
    from distill import export as exporter

    _say(f"exported: {exporter.to_hf(model_path, out)} ({fmt})")


@main.command()
@_out("Directory for the whole demo: teacher/, cache/, distill/, scratch/, the report.")
@_knob(TrainConfig, "seed", help_text="Seed for every stage, in {range}.")
@_knob(Plan, "teacher_size")
@_knob(Plan, "student_size")
@_knob(Plan, "teacher_steps")
@_knob(Plan, "student_steps")
@_data_paths(
    "A prepared store, or files, folders or globs prepared once into OUT/data (repeatable); "
    "default: the embedded pydoc corpus.",
    dest="data",
)
@click.option(
    "--on-policy",
    is_flag=True,
    help="Add an on-policy phase (distill onpolicy) after the distilled student, a fourth "
    "row, and the teacher's NLL of each model's samples beside its validation loss.",
)
@_knob(Plan, "onpolicy_steps")
@_knob(TrainConfig, "drift_tolerance", default=STUDENT_SCHEDULE.drift_tolerance)
@_common
@_refusals
def run(out: Path, seed: int, device: str, quiet: bool, **sizes: Any) -> None:
    """Pretrain a teacher, cache its logits, distil a student, train the same student from
    scratch as the baseline, sample, and write report.html and loss.png."""
    from distill import pipeline

    plan = Plan(**sizes)
    check_value(TrainConfig, "seed", seed)  # refused before anything is written
    pipeline.run_all(out_dir=out, seed=seed, device=device, quiet=quiet, echo=click.echo, plan=plan)


@main.command("report")
@click.argument("run_dirs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    help="Directory for report.html and loss.png (default: the run directory, or the "
    "folder the run directories share).",
)
@_refusals
def report_cmd(run_dirs: tuple[Path, ...], out: Path | None) -> None:
    """Write loss.png (train and validation loss per epoch of every run) and report.html
    (chart, configs, epochs, drift gate, cache, samples) for RUN_DIRS or a `run` directory."""
    from distill import report

    html, chart = report.write_report(run_dirs, out)
    _say(f"report: {html}")
    _say(f"chart:  {chart}")


def _say(text: str) -> None:
    """A result line, printed once: under torchrun only rank 0 speaks (errors: every rank)."""
    if os.environ.get("RANK", "0") == "0":
        click.echo(text)


def _report(model_dir: Path, metadata: dict[str, Any]) -> None:
    last = metadata["epochs"][-1]
    _say(f"model: {model_dir}")
    speed = last.get("tokens_per_second")  # null where a killed process took it along
    _say(
        f"val_loss: {last['val_loss']:.4f}  train_loss: {last['train_loss']:.4f}  "
        f"tokens/s: {'-' if speed is None else f'{speed:,.0f}'}"
    )
    gate = metadata["drift_gate"]
    _say(f"drift gate: changed {gate['relative_change']:.1%} (> {gate['tolerance'] * 100:.3g}%)")
