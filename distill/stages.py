"""The stages behind the CLI (pretrain, precompute, train, generate): each checks its inputs
and its output directory before any work, then hands off to the loop or the cache writer."""

from __future__ import annotations

import contextlib
import dataclasses
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import torch

from distill import (
    batches,
    cache,
    data,
    distributed,
    inputs,
    model,
    onpolicy,
    pairing,
    runlock,
    tokenizer,
)
from distill.checkpoint import CHECKPOINT
from distill.config import (
    DataConfig,
    OnPolicyConfig,
    PrecomputeConfig,
    SampleConfig,
    TrainConfig,
    as_dict,
    check_value,
)
from distill.errors import (
    CheckpointMismatchError,
    ConfigError,
    DataError,
    DistillError,
    ModelError,
    OutputExistsError,
)
from distill.progress import Progress
from distill.train import INITIAL, METADATA, Outcome, train

RUN_MARKERS = (METADATA, "checkpoint.pt", cache.CACHE_DIR, "student", "model")
BYTE_VOCAB = 256  # the built-in models read raw bytes: every id 0..255 must exist
BYTE_NEED = f"pretrain reads bytes, so it needs vocab_size >= {BYTE_VOCAB}"


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--device cuda requested but no CUDA device is available")
    if name not in {"cpu", "cuda"}:
        raise ConfigError(f"--device must be auto, cpu or cuda, got {name!r}")
    return torch.device(name)


def _world(device: str) -> tuple[distributed.World, torch.device]:
    """This process's place under torchrun (rank 0 of 1 otherwise) and its device."""
    return distributed.init(resolve_device(device))


def check_out_dir(out_dir: Path) -> None:
    """Refuse an --out that exists as something other than a directory."""
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputExistsError(f"--out {out_dir} exists and is not a directory")


def prepare_out(out_dir: Path, *, resume: bool = False) -> None:
    """Refuse a directory that holds another run (unless resuming it); create it otherwise."""
    check_out_dir(out_dir)
    found = [m for m in RUN_MARKERS if (out_dir / m).exists()]
    if found and not resume:
        raise OutputExistsError(
            f"output directory {out_dir} already holds another run ({found[0]}): "
            "choose a new --out, or pass --resume to continue it"
        )
    out_dir.mkdir(parents=True, exist_ok=True)


@contextlib.contextmanager
def claim(out_dir: Path, world: distributed.World, resume: bool | None = None) -> Iterator[None]:
    """Hold `out_dir`'s lock for the block (rank 0; distill.runlock), after checking that it
    holds no other run when `resume` is given; the other ranks wait for rank 0's verdict."""
    with contextlib.ExitStack() as stack:
        problem: DistillError | None = None
        if world.main:
            try:
                check_out_dir(out_dir)
                if resume and not any((out_dir / f).is_file() for f in (CHECKPOINT, INITIAL)):
                    # nothing of a run here (a missing folder is not created for the refusal);
                    # a run killed before its first checkpoint left INITIAL and starts again
                    raise CheckpointMismatchError(
                        f"nothing to resume: no {CHECKPOINT} in {out_dir}"
                    )
                stack.enter_context(runlock.hold(out_dir))
                if resume is not None:
                    prepare_out(out_dir, resume=resume)
            except DistillError as exc:
                problem = exc
        said = world.broadcast(None if problem is None else str(problem))
        if problem is not None:
            raise problem
        if said is not None:
            raise DistillError(said)
        yield


def _flat(prefix: str, values: dict[str, Any]) -> dict[str, Any]:
    return {f"{prefix}.{k}": v for k, v in values.items()}


def _gpt_config(size: str, seq_len: int) -> model.GPTConfig:
    cfg = model.resolve_size(size)
    if cfg.block_size < seq_len:
        cfg = dataclasses.replace(cfg, block_size=seq_len)
    return cfg


def _fresh_gpt(cfg: model.GPTConfig, seed: int) -> model.GPT:
    torch.manual_seed(seed)  # same seed -> same initial student, distilled or from scratch
    return model.GPT(cfg)


def _train_with_progress(
    label: str, quiet: bool, net: torch.nn.Module, data: batches.Batches, **kw: Any
) -> Outcome:
    """The training loop behind a progress bar that is closed however the loop ends."""
    bar = Progress(label, quiet=quiet)
    try:
        return train(net, data, on_step=bar.step, **kw)
    finally:
        bar.close()


def pretrain(
    *,
    out_dir: Path,
    data_paths: Sequence[Path],
    size: str,
    data_cfg: DataConfig,
    cfg: TrainConfig,
    device: str,
    resume: bool,
    quiet: bool,
    checkpoint_every: int = 0,
) -> Outcome:
    """Train a built-in GPT from scratch with plain cross-entropy (alpha must be 0)."""
    if cfg.alpha != 0.0:
        raise ConfigError("pretrain trains with cross-entropy only: alpha must be 0")
    world, dev = _world(device)
    gpt = _gpt_config(size, data_cfg.seq_len)
    if gpt.vocab_size < BYTE_VOCAB:  # ids 0..255 must all exist before any work
        raise ConfigError(f"model vocab_size {gpt.vocab_size} is too small: {BYTE_NEED}")
    fresh = not out_dir.exists()
    with claim(out_dir, world, resume):  # raw --data is prepared into the locked run dir
        corpus, data_cfg = inputs.load_corpus(
            data_paths, run_dir=out_dir, model_dir=None, vocab_size=gpt.vocab_size,
            data_cfg=data_cfg, world=world, role="model", fresh=fresh,
        )  # fmt: skip
        net = _fresh_gpt(gpt, cfg.seed)
        run_config = {
            "kind": "pretrain",
            "data_fingerprint": data.fingerprint(corpus, data_cfg),
            **_flat("model", dataclasses.asdict(net.config)),
            **_flat("data", as_dict(data_cfg)),
            **_flat("train", as_dict(cfg)),
        }
        return _train_with_progress(
            "pretrain",
            quiet,
            net,
            batches.from_corpus(corpus, data_cfg.seq_len),
            config=cfg,
            out_dir=out_dir,
            model_subdir="model",
            run_config=run_config,
            device=dev,
            resume=resume,
            world=world,
            checkpoint_every=checkpoint_every,
        )


def precompute(
    *,
    teacher_path: Path,
    out_dir: Path,
    data_paths: Sequence[Path],
    data_cfg: DataConfig,
    cfg: PrecomputeConfig,
    device: str,
    quiet: bool,
) -> Path:
    """Run the frozen teacher once over the training windows and write the cache."""
    world, dev = _world(device)
    teacher_dir = model.find_model_dir(teacher_path)
    teacher = model.load_model(teacher_dir)
    vocab = pairing.real_vocab(teacher, teacher_dir)
    if data_cfg.seq_len > int(getattr(teacher, "max_seq_len", 1 << 20)):
        raise ConfigError(f"--seq-len {data_cfg.seq_len} exceeds the teacher's context")
    if (out_dir / cache.CACHE_DIR).exists():
        raise OutputExistsError(
            f"{out_dir / cache.CACHE_DIR} already holds a cache: choose another --out"
        )
    fresh = not out_dir.exists()
    bar = Progress("precompute", quiet=quiet)
    try:
        with claim(out_dir, world):  # write_cache refuses an existing cache inside it
            corpus, data_cfg = inputs.load_corpus(
                data_paths, run_dir=out_dir, model_dir=teacher_dir, vocab_size=vocab,
                data_cfg=data_cfg, world=world, role="teacher", fresh=fresh,
            )  # fmt: skip
            return cache.write_cache(
                out_dir,
                teacher=teacher.to(dev),
                corpus=corpus,
                data=data_cfg,
                precompute=cfg,
                teacher_fingerprint=model.fingerprint(teacher_dir),
                data_fingerprint=data.fingerprint(corpus, data_cfg),
                device=dev,
                on_shard=_releasing(corpus, bar.shard),
                world=world,
            )
    finally:
        bar.close()


def _releasing(
    corpus: data.Corpus, hook: Callable[[int, int, int], None]
) -> Callable[[int, int, int], None]:
    """`hook`, after unmapping the windows of the shard just written (a store's corpus)."""

    def on_shard(done: int, total: int, tokens: int) -> None:
        if corpus.release is not None:
            corpus.release()
        hook(done, total, tokens)

    return on_shard


def _student(
    path: Path | None, size: str, seed: int, seq_len: int
) -> tuple[torch.nn.Module, dict[str, Any]]:
    """The initial student and what identifies it in the run config."""
    if path is not None:
        return model.load_model(path), {"student.fingerprint": model.fingerprint(path)}
    student = _fresh_gpt(_gpt_config(size, seq_len), seed)
    return student, _flat("student", dataclasses.asdict(student.config))


def distill(
    *,
    cache_path: Path,
    out_dir: Path,
    student_path: Path | None,
    size: str,
    cfg: TrainConfig,
    device: str,
    resume: bool,
    quiet: bool,
    checkpoint_every: int = 0,
) -> Outcome:
    """Distil a student from a verified cache; vocabularies must match before any work."""
    world, dev = _world(device)
    teacher_cache = cache.open_cache(cache_path)
    teacher_cache.require_tail(cfg.tail)
    student, student_id = _student(student_path, size, cfg.seed, teacher_cache.seq_len)
    pairing.check_student(teacher_cache, cache_path, student, student_path)
    if teacher_cache.seq_len > int(getattr(student, "max_seq_len", 1 << 20)):
        raise ModelError(f"the cache's seq_len {teacher_cache.seq_len} exceeds the student's")
    run_config = {
        "kind": "train",
        "cache.manifest_sha256": teacher_cache.sha256,
        "cache.teacher_fingerprint": teacher_cache.manifest["teacher_fingerprint"],
        "cache.data_fingerprint": teacher_cache.manifest["data_fingerprint"],
        **student_id,
        **_flat("train", as_dict(cfg)),
    }
    with claim(out_dir, world, resume):
        return _train_with_progress(
            "train",
            quiet,
            student,
            batches.from_cache(teacher_cache),
            config=cfg,
            out_dir=out_dir,
            model_subdir="student",
            run_config=run_config,
            device=dev,
            resume=resume,
            world=world,
            checkpoint_every=checkpoint_every,
        )


def _pair(teacher_path: Path, student_path: Path) -> tuple[torch.nn.Module, torch.nn.Module]:
    """A teacher and a student that read the same ids: one tokenizer (by fingerprint) and one
    vocabulary, padding rows past the tokenizer cut from either (as precompute does)."""
    teacher_dir = model.find_model_dir(teacher_path)
    student_dir = model.find_model_dir(student_path)
    teacher, student = model.load_model(teacher_dir), model.load_model(student_dir)
    theirs, mine = tokenizer.load(teacher_dir).ident, tokenizer.load(student_dir).ident
    if not tokenizer.same(theirs.label, mine.label):
        raise ModelError(
            f"tokenizer mismatch: the teacher {teacher_path} uses "
            f"{tokenizer.describe(theirs.label)}, the student {student_path} "
            f"{tokenizer.describe(mine.label)}; distil between models that share one tokenizer"
        )
    t_vocab = pairing.real_vocab(teacher, teacher_dir)
    s_vocab = pairing.real_vocab(student, student_dir)
    if t_vocab != s_vocab:
        raise ModelError(
            f"vocabulary mismatch: the teacher has {t_vocab} ids, the student {s_vocab}; "
            "they must share one vocabulary"
        )
    return teacher, student


def _fits(net: torch.nn.Module, role: str, tokens: int, what: str) -> None:
    limit = int(getattr(net, "max_seq_len", 1 << 20))
    if tokens > limit:
        raise ConfigError(f"{what} ({tokens} tokens) exceeds the {role}'s context of {limit}")


def on_policy(
    *,
    teacher_path: Path,
    student_path: Path,
    out_dir: Path,
    data_paths: Sequence[Path],
    val_fraction: float,
    cfg: TrainConfig,
    policy: OnPolicyConfig,
    device: str,
    resume: bool,
    quiet: bool,
    checkpoint_every: int = 0,
) -> Outcome:
    """Continue a student on its own samples, scored by a live frozen teacher."""
    world, dev = _world(device)
    teacher, student = _pair(teacher_path, student_path)
    for net, role in ((teacher, "teacher"), (student, "student")):
        _fits(net, role, policy.window, "--prompt-len + --gen-len")
    cfg = dataclasses.replace(cfg, alpha=1.0)  # the divergence alone: no CE on own samples
    fresh = not out_dir.exists()
    with claim(out_dir, world, resume):
        corpus, data_cfg = inputs.load_corpus(
            data_paths, run_dir=out_dir, model_dir=model.find_model_dir(teacher_path),
            vocab_size=model.vocab_size(teacher),
            data_cfg=DataConfig(seq_len=policy.window, val_fraction=val_fraction), world=world,
            role="teacher", fresh=fresh,
        )  # fmt: skip
        run_config = {
            "kind": "onpolicy",
            "teacher.fingerprint": model.fingerprint(teacher_path),
            "student.fingerprint": model.fingerprint(student_path),
            "data_fingerprint": data.fingerprint(corpus, data_cfg),
            **_flat("data", as_dict(data_cfg)),
            **_flat("train", as_dict(cfg)),
            **_flat("onpolicy", as_dict(policy)),
        }
        objective = onpolicy.OnPolicy(
            teacher=onpolicy.freeze(teacher.to(dev)), policy=policy, config=cfg, rank=world.rank
        )
        return _train_with_progress(
            "onpolicy",
            quiet,
            student,
            batches.from_corpus(corpus, policy.window),
            config=cfg,
            out_dir=out_dir,
            model_subdir="student",
            run_config=run_config,
            device=dev,
            resume=resume,
            world=world,
            checkpoint_every=checkpoint_every,
            objective=objective,
        )


def evaluate(
    *,
    model_path: Path,
    data_paths: Sequence[Path],
    teacher_path: Path | None,
    samples: int,
    seed: int,
    seq_len: int,
    eval_windows: int,
    prompt_len: int,
    gen_len: int,
    val_fraction: float,
    device: str,
) -> dict[str, Any]:
    """A model's validation cross-entropy on the data and, with a teacher, the teacher's mean
    NLL per token of `samples` of the model's own continuations of validation prompts (the
    exposure-bias measure: what the teacher thinks of what the model writes)."""
    from distill import train as train_mod

    # every range is checked before a model is loaded
    check_value(SampleConfig, "samples", samples)
    check_value(SampleConfig, "seed", seed)
    policy = OnPolicyConfig(prompt_len=prompt_len, gen_len=gen_len)
    data_cfg = DataConfig(seq_len=seq_len, val_fraction=val_fraction)
    cfg = TrainConfig(eval_windows=eval_windows, batch_size=16)
    _, dev = _world(device)
    model_dir = model.find_model_dir(model_path)
    if teacher_path is not None:
        teacher, net = _pair(teacher_path, model_path)
    else:
        teacher, net = None, model.load_model(model_dir)
        pairing.real_vocab(net, model_dir)
    _fits(net, "model", seq_len, "--seq-len")
    net.to(dev)
    with tempfile.TemporaryDirectory(prefix="distill-eval-") as scratch:  # raw files' store
        try:
            corpus, data_cfg = inputs.load_corpus(
                data_paths, run_dir=Path(scratch), model_dir=model_dir,
                vocab_size=model.vocab_size(net), data_cfg=data_cfg, world=distributed.World(),
                role="model", fresh=False,
            )  # fmt: skip
        except DataError as exc:  # name the user's --data, not the scratch store made of it
            said = str(exc).replace(str(Path(scratch) / inputs.RUN_STORE), "--data")
            raise DataError(said) from None
        windows = data.windows(corpus.val, seq_len)[:eval_windows]
        if not len(windows):
            raise ConfigError(f"the validation split holds no window of {seq_len} tokens")
        result: dict[str, Any] = {
            "model": str(model_dir),
            "val_loss": train_mod.evaluate(net, batches.from_corpus(corpus, seq_len), cfg, dev),
            "val_windows": len(windows),
            "seq_len": seq_len,
        }
        if teacher is not None and teacher_path is not None:
            _fits(net, "model", policy.window, "--prompt-len + --gen-len")
            _fits(teacher, "teacher", policy.window, "--prompt-len + --gen-len")
            prompts = data.windows(corpus.val, prompt_len)[:samples, :prompt_len]
            if len(prompts) < samples:
                raise ConfigError(
                    f"the validation split holds {len(prompts)} prompts of {prompt_len} tokens, "
                    f"fewer than --samples {samples}"
                )
            scores = onpolicy.score_samples(
                net, onpolicy.freeze(teacher.to(dev)), torch.from_numpy(prompts.astype("int64")),
                policy=policy, seed=seed, device=dev,
            )  # fmt: skip
            result |= {
                "teacher": str(model.find_model_dir(teacher_path)),
                "teacher_nll_of_samples": scores.teacher_nll,
                "model_nll_of_samples": scores.model_nll,
                "reverse_kl_of_samples": scores.reverse_kl,
                "samples": samples,
                "prompt_len": prompt_len,
                "gen_len": gen_len,
                "seed": seed,
            }
    return result


def generate(
    *,
    model_path: Path,
    prompt: str,
    max_new_tokens: int,
    temperature: float,
    seed: int,
    device: str,
) -> str:
    from distill import generate as gen

    SampleConfig(max_new_tokens=max_new_tokens, temperature=temperature, seed=seed)
    net = model.load_model(model_path)
    ids = gen.sample(
        net,
        gen.encode_prompt(model_path, prompt),
        max_new_tokens=max_new_tokens,
        temperature=temperature,
        seed=seed,
        device=resolve_device(device),
    )
    return gen.decode(model_path, ids)
