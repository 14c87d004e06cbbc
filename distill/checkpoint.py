"""Atomic training checkpoints (temp file, then os.replace) holding model, optimizer,
scheduler, step, RNG states, the resolved config and their own digest; a resume refuses any
other config and any damaged file."""

from __future__ import annotations

import hashlib
import pickle
import random
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import torch

from distill import durable
from distill.durable import atomic_write_bytes as atomic_write_bytes
from distill.durable import atomic_write_json as atomic_write_json
from distill.errors import CheckpointMismatchError

CHECKPOINT = "checkpoint.pt"
DIGEST = "sha256"  # the key under which a checkpoint carries its own digest


def rng_state() -> dict[str, Any]:
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": np.random.get_state(),
        "python": random.getstate(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def seed_generators(seed: int) -> None:
    """Seed torch's, python's and numpy's global generators at the start of a run. A
    checkpoint carries their states, and a model may draw from torch's (a Hugging Face
    model's dropout): seeded, both follow from the run's config alone, not from whatever the
    process drew before (an interpreter seeds python's and numpy's from os.urandom)."""
    torch.manual_seed(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def state_digest(value: Any) -> str:
    """sha256 over every tensor's bytes and every other value's repr, in structure order.

    torch.load does not check the zip's CRCs, so a flipped byte in tensor data loads as
    garbage; this digest, saved inside the checkpoint, is how a reader refuses it."""
    digest = hashlib.sha256()
    _feed(digest, value)
    return digest.hexdigest()


def _feed(digest: Any, value: Any) -> None:
    if isinstance(value, torch.Tensor):
        t = value.detach().cpu().contiguous()
        digest.update(f"T{t.dtype}{tuple(t.shape)}".encode())
        digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    elif isinstance(value, np.ndarray):
        digest.update(f"A{value.dtype}{value.shape}".encode() + value.tobytes())
    elif isinstance(value, dict):
        digest.update(b"{")
        for key, item in value.items():
            digest.update(repr(key).encode() + b":")
            _feed(digest, item)
        digest.update(b"}")
    elif isinstance(value, list | tuple):
        digest.update(b"[")
        for item in value:
            _feed(digest, item)
        digest.update(b"]")
    else:
        digest.update(repr(value).encode() + b";")


class _ValuePickler(pickle.Pickler):
    """A pickler without its memo (fast mode), so that a checkpoint's bytes follow from its
    values alone. With the memo they also follow from which equal values are one object: a
    resumed run's optimizer state, unpickled, holds its own "step" strings where an
    uninterrupted run's shares one, and the two checkpoints differ though nothing else does.
    Tensors are unaffected (torch shares their storages by its own keys); a checkpoint is a
    tree, which is all fast mode asks."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fast = True


_BY_VALUE = SimpleNamespace(__name__="pickle", Pickler=_ValuePickler)  # torch.save's pickle_module


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """torch.save beside the target with its digest inside, then rename: never half-written."""
    sealed = {**state, DIGEST: state_digest(state)}
    durable.replace_file(path, lambda tmp: torch.save(sealed, tmp, pickle_module=_BY_VALUE))


def _load_sealed(path: Path, *, weights_only: bool) -> dict[str, Any]:
    """The state saved at `path`, refused unless its digest matches what was saved."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=weights_only)
        if not isinstance(state, dict):
            raise TypeError(f"holds a {type(state).__name__}, not a checkpoint")
    except Exception as exc:  # torch raises many types for a damaged pickle
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise CheckpointMismatchError(f"cannot read {path} (damaged?): {first}") from None
    saved = state.pop(DIGEST, None)
    if saved is None:
        raise CheckpointMismatchError(
            f"{path} carries no digest (damaged, or written by an older version): "
            "nothing was changed; start a new run with a new --out"
        )
    if saved != state_digest(state):
        raise CheckpointMismatchError(
            f"{path} is damaged: its content does not match the digest saved in it; "
            "nothing was changed (start a new run with a new --out, or restore the file)"
        )
    return state


def load_checkpoint(path: Path, config: dict[str, Any]) -> dict[str, Any]:
    """The checkpoint at `path`, provided it was made with exactly `config`."""
    if not path.is_file():
        raise CheckpointMismatchError(f"nothing to resume: no {path.name} in {path.parent}")
    state = _load_sealed(path, weights_only=False)
    saved = state.get("config", {})
    if saved != config:
        diffs = sorted(k for k in set(saved) | set(config) if saved.get(k) != config.get(k))
        detail = ", ".join(f"{k}: {saved.get(k)!r} -> {config.get(k)!r}" for k in diffs[:4])
        raise CheckpointMismatchError(
            f"refusing to resume {path}: config differs ({detail}); "
            "use the same options or a new --out"
        )
    return state


def load_initial(path: Path) -> dict[str, Any]:
    """The weights a run started from (saved beside its checkpoint), for the drift gate."""
    if not path.is_file():
        raise CheckpointMismatchError(
            f"cannot resume: {path.name} (the starting weights the drift gate compares "
            f"against) is missing from {path.parent}; start a new run with a new --out"
        )
    return _load_sealed(path, weights_only=True)
