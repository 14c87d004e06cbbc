"""Atomic training checkpoints (temp file, then os.replace) holding model, optimizer,
scheduler, step, RNG states and the resolved config; a resume refuses any other config."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from distill.errors import CheckpointMismatchError

CHECKPOINT = "checkpoint.pt"


def rng_state() -> dict[str, Any]:
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": np.random.get_state(),
        "python": random.getstate(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write beside the target, flush to disk, then rename over it: never half-written."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with tmp.open("wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_json(path: Path, value: Any) -> None:
    atomic_write_bytes(path, (json.dumps(value, indent=2, sort_keys=True) + "\n").encode())


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """torch.save beside the target, then rename over it: never half-written."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        torch.save(state, tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def load_checkpoint(path: Path, config: dict[str, Any]) -> dict[str, Any]:
    """The checkpoint at `path`, provided it was made with exactly `config`."""
    if not path.is_file():
        raise CheckpointMismatchError(f"nothing to resume: no {path.name} in {path.parent}")
    try:
        state: dict[str, Any] = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # torch raises many types for a damaged pickle
        raise CheckpointMismatchError(f"cannot read checkpoint {path}: {exc}") from None
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
    try:
        state: dict[str, Any] = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a damaged pickle
        raise CheckpointMismatchError(f"cannot read {path}: {exc}") from None
    return state
