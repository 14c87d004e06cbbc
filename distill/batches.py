"""Where the training loop's windows come from: a verified teacher cache (distillation) or
plain token windows (pretraining). Both hand out (tokens, teacher ids, teacher values)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from distill.cache import TeacherCache
from distill.data import Corpus, windows
from distill.loss import Teacher, TopK

# tokens, top-k ids, teacher values, the teacher's full logsumexp (top-k caches that store it)
Fetched = tuple[np.ndarray, np.ndarray | None, np.ndarray | None, np.ndarray | None]


@dataclass(frozen=True, slots=True, kw_only=True)
class Batches:
    """`fetch(indices)` -> tokens (B, L+1), teacher ids (B, L, k) or None, values or None."""

    n_windows: int
    seq_len: int
    vocab_size: int
    val: np.ndarray
    fetch: Callable[[np.ndarray], Fetched]


def from_cache(cache: TeacherCache) -> Batches:
    return Batches(
        n_windows=cache.n_windows,
        seq_len=cache.seq_len,
        vocab_size=cache.vocab_size,
        val=cache.val,
        fetch=lambda indices: (*cache.batch(indices), cache.batch_lse(indices)),
    )


def from_corpus(corpus: Corpus, seq_len: int) -> Batches:
    train = windows(corpus.train, seq_len)

    def fetch(indices: np.ndarray) -> Fetched:
        tokens = train[indices]  # a copy: the mapped pages can go
        if corpus.release is not None:
            corpus.release()
        return tokens, None, None, None

    return Batches(
        n_windows=len(train),
        seq_len=seq_len,
        vocab_size=corpus.vocab_size,
        val=corpus.val,
        fetch=fetch,
    )


def to_device(fetched: Fetched, device: torch.device) -> tuple[torch.Tensor, torch.Tensor, Teacher]:
    """(inputs (B, L), targets (B, L), teacher logits): targets are inputs shifted by one."""
    tokens, ids, values, lse = fetched
    t = torch.from_numpy(tokens.astype(np.int64)).to(device)
    teacher: Teacher = None
    if values is not None:
        vals = torch.from_numpy(values).to(device)
        teacher = (
            vals
            if ids is None
            else TopK(
                ids=torch.from_numpy(ids.astype(np.int64)).to(device),
                values=vals,
                lse=torch.from_numpy(lse).to(device) if lse is not None else None,
            )
        )
    return t[:, :-1], t[:, 1:], teacher


@functools.lru_cache(maxsize=2)
def epoch_order(n_windows: int, seed: int, epoch: int) -> np.ndarray:
    """A fixed permutation per (seed, epoch): resuming mid-run sees the same order.

    Kept for the epoch (every step asks again): over a large store the permutation is the
    biggest thing training allocates (4 bytes a window), so it is built once, not per step.
    """
    gen = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    # int32 where it fits: the same permutation (torch draws it identically) in half the bytes
    small = n_windows < 2**31
    dtype = torch.int32 if small else torch.int64
    order = torch.randperm(n_windows, generator=gen, dtype=dtype).numpy()
    order.setflags(write=False)  # shared by every caller of this epoch
    return order


def val_windows(batches: Batches, limit: int) -> np.ndarray:
    return windows(batches.val, batches.seq_len)[:limit]
