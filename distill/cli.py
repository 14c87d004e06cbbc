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
from distill.config import ONPOLICY_SCHEDULE, STUDENT_SCHEDULE, TEACHER_SCHEDULE, Schedule
from distill.errors import DistillError

F = TypeVar("F", bound=Callable[..., Any])
SIZE_CHOICES = "tiny, small, medium or a JSON file of GPT config fields"
SEED = click.IntRange(min=0)
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


_device = click.option(
    "--device",
    type=click.Choice(["auto", "cpu", "cuda"]),
    default="auto",
    show_default=True,
    help="Where to run; bf16 autocast is used on CUDA.",
)


def _out(help_text: str) -> Callable[[F], F]:
    """The required --out directory every stage writes into."""
    return click.option("--out", required=True, type=click.Path(path_type=Path), help=help_text)


def _common(func: F) -> F:
    func = _device(func)
    return click.option(
        "--quiet", is_flag=True, help="No progress bar (it is also off when not a tty)."
    )(func)


def _data_paths(
    help_text: str, *, required: bool = False, dest: str = "data_paths"
) -> Callable[[F], F]:
    """--data: a prepared store, or files, folders or globs (repeatable)."""
    return click.option(
        "--data", dest, multiple=True, required=required, type=click.Path(path_type=Path),
        help=help_text,
    )  # fmt: skip


def _val_fraction(what: str = "corpus") -> Callable[[F], F]:
    return click.option(
        "--val-fraction",
        default=0.1,
        show_default=True,
        type=float,
        help=f"Tail of the {what} held out for validation, in [0.01, 0.5].",
    )


CORPUS_HELP = (
    "A prepared store, or text/JSONL/Parquet files, folders or globs (repeatable; prepared "
    "into OUT/data); default: the embedded pydoc corpus."
)


def _data(func: F) -> F:
    func = _data_paths(CORPUS_HELP)(func)
    func = click.option(
        "--seq-len",
        default=128,
        show_default=True,
        type=int,
        help="Tokens per training window, in [2, 65536].",
    )(func)
    result: F = _val_fraction()(func)
    return result


def _drift(default: float) -> Callable[[F], F]:
    return click.option(
        "--drift-tolerance",
        default=default,
        show_default=True,
        type=click.FloatRange(0.0, 10.0),
        help="Publish the model only if its weights moved by more than this fraction; "
        "0 for a deliberate smoke run of a few steps.",
    )


_drift_tolerance = _drift(STUDENT_SCHEDULE.drift_tolerance)


def _divergence(default: str) -> Callable[[F], F]:
    """--temperature, --divergence, --beta and --skew: the divergence of train and onpolicy."""

    def deco(func: F) -> F:
        options = [
            click.option(
                "--temperature",
                default=1.0,
                show_default=True,
                type=float,
                help="Softmax temperature T of the KL term, in (0, 100].",
            ),
            click.option(
                "--divergence",
                default=default,
                show_default=True,
                type=click.Choice(["forward_kl", "reverse_kl", "jsd", "skew_kl", "tvd"]),
                help="Teacher-student divergence; T^2 weighs all but tvd.",
            ),
            click.option(
                "--beta",
                default=0.5,
                show_default=True,
                type=float,
                help="jsd's mixture weight, in [0, 1]: 0 = forward KL, 1 = reverse KL.",
            ),
            click.option(
                "--skew",
                default=0.1,
                show_default=True,
                type=float,
                help="skew_kl's mixture weight a in [0, 1): KL(p || a p + (1 - a) q).",
            ),
        ]
        for option in reversed(options):
            func = option(func)
        return func

    return deco


def _schedule(defaults: Schedule) -> Callable[[F], F]:
    epochs, steps, lr = defaults.epochs, defaults.steps_per_epoch, defaults.lr

    def deco(func: F) -> F:
        options = [
            click.option(
                "--epochs",
                default=epochs,
                show_default=True,
                type=int,
                help="Epochs (a checkpoint after each), in [1, 100000].",
            ),
            click.option(
                "--steps-per-epoch",
                default=steps,
                show_default=True,
                type=int,
                help="Optimizer steps per epoch; 0 = one pass over the data.",
            ),
            click.option(
                "--batch-size",
                default=16,
                show_default=True,
                type=int,
                help="Windows per micro-batch, in [1, 4096].",
            ),
            click.option(
                "--grad-accum",
                default=1,
                show_default=True,
                type=int,
                help="Micro-batches per optimizer step, in [1, 1024].",
            ),
            click.option(
                "--lr",
                default=lr,
                show_default=True,
                type=float,
                help="Peak AdamW learning rate, in (0, 1].",
            ),
            click.option(
                "--warmup-steps",
                default=20,
                show_default=True,
                type=int,
                help="Linear warmup steps before cosine decay, >= 0.",
            ),
            click.option(
                "--seed",
                default=0,
                show_default=True,
                type=SEED,
                help="Seed for initialisation and data order, >= 0.",
            ),
            _drift(defaults.drift_tolerance),
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
        ]
        for option in reversed(options):
            func = option(func)
        return func

    return deco


def _train_config(**kw: Any) -> Any:
    from distill.config import TrainConfig

    return TrainConfig(**kw)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="distill")
def main() -> None:
    """Knowledge distillation for causal LMs: pretrain, precompute, train, generate, run."""


@main.command()
@_out("Run directory to create (the model lands in OUT/model).")
@click.option(
    "--model-size",
    default="small",
    show_default=True,
    help=f"Model size: {SIZE_CHOICES}.",
)
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
    from distill.config import DataConfig

    outcome = stages.pretrain(
        out_dir=out,
        data_paths=data_paths,
        size=model_size,
        data_cfg=DataConfig(seq_len=seq_len, val_fraction=val_fraction),
        cfg=_train_config(alpha=0.0, **kw),
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
@click.option(
    "--tokenizer",
    "tokenizer_dir",
    type=click.Path(path_type=Path),
    default=None,
    help="A local Hugging Face model or tokenizer directory; default: bytes (the built-in GPT).",
)
@click.option(
    "--text-field",
    default="text",
    show_default=True,
    help="The JSONL field or Parquet column that holds each document's text.",
)
@_val_fraction("token stream")
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
@click.option(
    "--teacher",
    required=True,
    type=click.Path(path_type=Path),
    help="Teacher model directory, or a run directory that holds one.",
)
@_out("Directory to write OUT/teacher_logits/ into.")
@click.option(
    "--top-k",
    default=32,
    show_default=True,
    type=int,
    help="Logits kept per token, in [0, vocab]; 0 keeps all of them.",
)
@click.option(
    "--batch-size",
    default=32,
    show_default=True,
    type=int,
    help="Windows per teacher forward pass, in [1, 4096].",
)
@click.option(
    "--max-windows",
    default=0,
    show_default=True,
    type=int,
    help="Cache only the first N training windows; 0 = all.",
)
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
    from distill.config import DataConfig, PrecomputeConfig

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
@click.option(
    "--cache",
    required=True,
    type=click.Path(path_type=Path),
    help="Directory holding teacher_logits/ (made by precompute).",
)
@_out("Run directory to create (the student lands in OUT/student).")
@click.option(
    "--student",
    type=click.Path(path_type=Path),
    default=None,
    help="Initial student: a model or run directory (default: a fresh GPT).",
)
@click.option(
    "--student-size",
    default="tiny",
    show_default=True,
    help=f"Size of a fresh student: {SIZE_CHOICES}.",
)
@click.option(
    "--alpha",
    default=0.9,
    show_default=True,
    type=float,
    help="Weight of the KL term, in [0, 1]; 1 - alpha weighs the CE term.",
)
@_divergence("forward_kl")
@click.option(
    "--tail",
    default="zero",
    show_default=True,
    type=click.Choice(["zero", "bucket"]),
    help="Top-k tail: probability 0, or one bucket of the teacher's remaining mass (T=1).",
)
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

    cfg = _train_config(**kw)
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


_prompt_len = click.option(
    "--prompt-len",
    default=32,
    show_default=True,
    type=int,
    help="Prompt tokens taken from the corpus before each continuation, in [1, 65536].",
)
_gen_len = click.option(
    "--gen-len",
    default=32,
    show_default=True,
    type=int,
    help="Continuation tokens sampled (and scored) after each prompt, in [1, 65536].",
)


@main.command("onpolicy")
@click.option(
    "--student",
    required=True,
    type=click.Path(path_type=Path),
    help="The student to continue: a model or run directory (e.g. distill train's OUT).",
)
@click.option(
    "--teacher",
    required=True,
    type=click.Path(path_type=Path),
    help="The live teacher: a model or run directory sharing the student's tokenizer.",
)
@_out("Run directory to create (the student lands in OUT/student).")
@_data_paths(f"Where the prompts come from. {CORPUS_HELP}")
@_val_fraction()
@_prompt_len
@_gen_len
@click.option(
    "--lambda",
    "lmbda",
    default=1.0,
    show_default=True,
    type=float,
    help="Probability that a micro-batch's continuations are the student's own samples "
    "(GKD's lambda): 1 = fully on-policy, 0 = the corpus continuations only.",
)
@click.option(
    "--objective",
    default="full",
    show_default=True,
    type=click.Choice(["full", "sampled"]),
    help="full: the divergence over the whole vocabulary at every continuation token; "
    "sampled: the sampled-token estimator of reverse KL (teacher log-probs of the samples).",
)
@click.option(
    "--gen-temperature",
    default=1.0,
    show_default=True,
    type=float,
    help="Temperature the student samples at, in [0, 100] (sampled needs 1).",
)
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
    from distill.config import OnPolicyConfig

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
        cfg=_train_config(**kw),
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
@click.option(
    "--model",
    "model_path",
    required=True,
    type=click.Path(path_type=Path),
    help="Model directory, or a run directory that holds one.",
)
@_data_paths(
    "A prepared store, or text/JSONL/Parquet files, folders or globs (repeatable); default: "
    "the embedded pydoc corpus. Its validation split is read."
)
@click.option(
    "--teacher",
    type=click.Path(path_type=Path),
    default=None,
    help="A teacher (sharing the model's tokenizer) to score the model's own samples.",
)
@click.option(
    "--samples",
    default=32,
    show_default=True,
    type=click.IntRange(1, 1 << 20),
    help="Samples the teacher scores (validation prompts, one continuation each).",
)
@click.option("--seed", default=0, show_default=True, type=SEED, help="Sampling seed, >= 0.")
@click.option(
    "--seq-len",
    default=128,
    show_default=True,
    type=int,
    help="Tokens per validation window, in [2, 65536].",
)
@click.option(
    "--eval-windows",
    default=64,
    show_default=True,
    type=click.IntRange(1, 1 << 31),
    help="Validation windows the cross-entropy is measured on.",
)
@_prompt_len
@_gen_len
@_val_fraction()
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
@click.option(
    "--model",
    "model_path",
    required=True,
    type=click.Path(path_type=Path),
    help="Model directory, or a run directory that holds one.",
)
@click.option("--prompt", default="The ", show_default=True, help="Text to continue.")
@click.option(
    "--max-new-tokens",
    default=200,
    show_default=True,
    type=int,
    help="Tokens to sample, in [0, 1000000].",
)
@click.option(
    "--temperature",
    default=0.8,
    show_default=True,
    type=float,
    help="Sampling temperature in [0, 100]; 0 is greedy.",
)
@click.option("--seed", default=0, show_default=True, type=SEED, help="Sampling seed, >= 0.")
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
@click.option(
    "--model",
    "model_path",
    required=True,
    type=click.Path(path_type=Path),
    help="A built-in model directory, or a run directory that holds one.",
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
@click.option("--seed", default=0, show_default=True, type=SEED, help="Seed for every stage, >= 0.")
@click.option(
    "--teacher-size",
    default="small",
    show_default=True,
    help=f"Teacher size: {SIZE_CHOICES}.",
)
@click.option(
    "--student-size",
    default="tiny",
    show_default=True,
    help=f"Student size: {SIZE_CHOICES}.",
)
@click.option(
    "--teacher-steps",
    default=TEACHER_SCHEDULE.steps_per_epoch,
    show_default=True,
    type=click.IntRange(min=1),
    help="Optimizer steps per teacher epoch, >= 1.",
)
@click.option(
    "--student-steps",
    default=STUDENT_SCHEDULE.steps_per_epoch,
    show_default=True,
    type=click.IntRange(min=1),
    help="Optimizer steps per student epoch, >= 1.",
)
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
@click.option(
    "--onpolicy-steps",
    default=ONPOLICY_SCHEDULE.steps_per_epoch,
    show_default=True,
    type=click.IntRange(min=1),
    help="Optimizer steps of the on-policy phase, >= 1.",
)
@_drift_tolerance
@_common
@_refusals
def run(out: Path, seed: int, device: str, quiet: bool, **sizes: Any) -> None:
    """Pretrain a teacher, cache its logits, distil a student, train the same student from
    scratch as the baseline, sample, and write report.html and loss.png."""
    from distill import pipeline

    plan = pipeline.Plan(**sizes)
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
    _say(
        f"val_loss: {last['val_loss']:.4f}  train_loss: {last['train_loss']:.4f}  "
        f"tokens/s: {last['tokens_per_second']:,.0f}"
    )
    gate = metadata["drift_gate"]
    _say(f"drift gate: changed {gate['relative_change']:.1%} (> {gate['tolerance'] * 100:.3g}%)")
