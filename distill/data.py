"""Token ids -> a deterministic train/validation split cut into fixed windows (files arrive
through a token store, `distill.store`). The embedded default corpus is CPython's own
documentation text (`pydoc_data.topics`), present on every Python install."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from distill.config import DataConfig
from distill.errors import DataError


@dataclass(frozen=True, slots=True, kw_only=True)
class Corpus:
    """Token ids split by position: the last `val_fraction` of the stream is validation."""

    train: np.ndarray
    val: np.ndarray
    vocab_size: int
    digest: str = ""  # a token store's identity: fingerprinted without reading the tokens
    # A memory-mapped corpus unmaps the pages read so far (after each batch), so a stage's
    # resident memory stays flat instead of growing by the pages mapped around every window.
    release: Callable[[], None] | None = None


def narrow_uint(vocab_size: int) -> np.dtype[np.unsignedinteger]:
    """The narrowest unsigned integer type holding every id below `vocab_size`."""
    for dtype in (np.uint8, np.uint16, np.uint32):
        if vocab_size - 1 <= np.iinfo(dtype).max:
            return np.dtype(dtype)
    return np.dtype(np.uint64)


def default_text() -> bytes:
    """The embedded corpus: pydoc topics in key order (~465 kB of English)."""
    from pydoc_data.topics import topics

    return "\n\n".join(topics[key] for key in sorted(topics)).encode("utf-8")


def tokenize(raw: bytes, model_dir: Path | None = None) -> np.ndarray:
    """Bytes are the tokens unless `model_dir` is a HF model that ships its own tokenizer."""
    if model_dir is not None:
        from distill import hf
        from distill.model import is_builtin_dir

        if not is_builtin_dir(model_dir) and hf.has_tokenizer(model_dir):
            return hf.encode(model_dir, raw.decode("utf-8", errors="replace"))
    return np.frombuffer(raw, dtype=np.uint8).astype(np.int64)


def split(tokens: np.ndarray, config: DataConfig, vocab_size: int) -> Corpus:
    """Deterministic split by position, so the same files always give the same windows."""
    if tokens.size and int(tokens.max()) >= vocab_size:
        raise DataError(f"token id {int(tokens.max())} is outside the vocabulary ({vocab_size})")
    n_val = max(int(len(tokens) * config.val_fraction), config.seq_len + 1)
    if len(tokens) - n_val < config.seq_len + 1:
        raise DataError(
            f"corpus of {len(tokens)} tokens is too small for seq_len {config.seq_len}: "
            f"need at least {2 * (config.seq_len + 1)}"
        )
    dtype = narrow_uint(vocab_size)
    return Corpus(
        train=tokens[:-n_val].astype(dtype),
        val=tokens[-n_val:].astype(dtype),
        vocab_size=vocab_size,
    )


def windows(tokens: np.ndarray, seq_len: int) -> np.ndarray:
    """(N, seq_len + 1) non-overlapping windows: inputs are [:, :-1], targets [:, 1:].

    A read-only strided view, not a copy: over a memory-mapped store only the windows a
    batch indexes are ever read, so memory does not grow with the corpus.
    """
    tokens = np.asarray(tokens)
    n = max((len(tokens) - 1) // seq_len, 0)
    step = tokens.strides[0]
    return np.lib.stride_tricks.as_strided(
        tokens, shape=(n, seq_len + 1), strides=(seq_len * step, step), writeable=False
    )


def fingerprint(corpus: Corpus, config: DataConfig) -> str:
    """sha256 of the split and how it was cut: a cache is only valid for these exact tokens."""
    digest = hashlib.sha256()
    digest.update(f"{config.seq_len}:{config.val_fraction}:{corpus.vocab_size}:".encode())
    if corpus.digest:  # a store's tokens are already hashed in its manifest
        digest.update(f"{config.tokenizer}:{corpus.digest}".encode())
        return digest.hexdigest()
    digest.update(corpus.train.astype(np.int64).tobytes())
    digest.update(b"|")
    digest.update(corpus.val.astype(np.int64).tobytes())
    return digest.hexdigest()
