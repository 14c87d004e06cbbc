"""What a stage reads for `--data`: the embedded corpus, a prepared token store, or raw files,
which are prepared on the fly into the run directory (`OUT/data`) and then read like a store.
Either way the stage gets a Corpus of memory-mapped views and the tokenizer it was made with."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

from distill import data, readers, runlock, store, tokenizer
from distill.config import DataConfig
from distill.distributed import World
from distill.errors import DataError, DistillError, ModelError

RUN_STORE = "data"  # where raw --data files are prepared inside a run directory
SOURCE_KEYS = ("path", "format", "bytes", "sha256")


def ensure_store(
    paths: Sequence[Path], target: Path, *, tokenizer_dir: Path | None, val_fraction: float
) -> Path:
    """Prepare `paths` into `target`, or reuse the store there if it was made from the same
    files (same sizes and sha256) with the same tokenizer and split, as a resumed run is."""
    if not store.is_store(target):
        return store.prepare(paths, target, tokenizer_dir=tokenizer_dir, val_fraction=val_fraction)
    found = store.open_store(target, verify=False)
    wanted = [s.entry() for s in readers.scan(paths)]
    had = [{k: e[k] for k in SOURCE_KEYS} for e in found.manifest["sources"]]
    tok = tokenizer.load(tokenizer_dir).ident
    if had != wanted or found.tokenizer.fingerprint != tok.fingerprint:
        raise DataError(
            f"{target} already holds a store prepared from other data or with another "
            "tokenizer: choose a new --out, or pass a prepared store as --data"
        )
    return target


def open_data(
    paths: Sequence[Path], *, run_dir: Path, tokenizer_dir: Path | None, val_fraction: float,
    world: World,
) -> store.Store | None:  # fmt: skip
    """The store behind `paths` (None: the embedded corpus). Raw files are prepared by rank 0
    while the other ranks wait for its verdict, then every rank maps the same file."""
    if not paths:
        return None
    stores = [p for p in paths if store.is_store(p)]
    if stores:
        if len(paths) > 1:
            raise DataError(f"the prepared store {stores[0]} must be the only --data")
        return store.open_store(paths[0], verify=world.main)  # one hash pass, not one a rank
    target = run_dir / RUN_STORE
    problem = None
    if world.main:
        try:
            ensure_store(paths, target, tokenizer_dir=tokenizer_dir, val_fraction=val_fraction)
        except DistillError as exc:
            problem = (type(exc), str(exc))
    problem = world.broadcast(problem)
    if problem is not None:
        raise problem[0](problem[1])
    return store.open_store(target, verify=False)  # just written or just checked


def load_corpus(
    paths: Sequence[Path], *, run_dir: Path, model_dir: Path | None, vocab_size: int,
    data_cfg: DataConfig, world: World, role: str, fresh: bool,
) -> tuple[data.Corpus, DataConfig]:  # fmt: skip
    """The corpus a model of `vocab_size` reads, with `data_cfg` naming its tokenizer; a store
    made with another tokenizer than the model's (`role`: teacher, model) is refused. A run
    directory that did not exist before (`fresh`) is removed again if that refusal left it empty.
    """
    try:
        return _load_corpus(paths, run_dir, model_dir, vocab_size, data_cfg, world, role)
    except DistillError:
        if world.main and fresh and run_dir.is_dir():
            left = list(run_dir.iterdir())
            if all(p.name == runlock.LOCK_FILE for p in left):  # only our own lock
                for path in left:  # removed while still held: no second writer can get in
                    path.unlink()
                run_dir.rmdir()
        raise


def _load_corpus(
    paths: Sequence[Path], run_dir: Path, model_dir: Path | None, vocab_size: int,
    data_cfg: DataConfig, world: World, role: str,
) -> tuple[data.Corpus, DataConfig]:  # fmt: skip
    tok = tokenizer.load(model_dir).ident
    cfg = dataclasses.replace(data_cfg, tokenizer=tok.label)
    found = open_data(
        paths, run_dir=run_dir, tokenizer_dir=model_dir, val_fraction=data_cfg.val_fraction,
        world=world,
    )  # fmt: skip
    if found is None:
        raw = data.default_text()
        return data.split(data.tokenize(raw, model_dir), cfg, vocab_size), cfg
    if found.tokenizer.fingerprint != tok.fingerprint:
        raise ModelError(
            f"tokenizer mismatch: the store {found.root} was made with "
            f"{tokenizer.describe(found.tokenizer.label)}, the {role} "
            f"{model_dir or '(the built-in GPT)'} uses {tokenizer.describe(tok.label)}; "
            f"prepare the data with --tokenizer {model_dir or '(none: bytes)'}"
        )
    return found.corpus(vocab_size, cfg), cfg
