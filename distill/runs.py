"""What a run report knows of one run directory: its metadata, its label in the comparison,
the cache it read and a sample. Below both the report (which gathers them) and the page (which
shows them)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

MODEL_SUBDIRS = ("model", "student")


@dataclass(frozen=True, slots=True, kw_only=True)
class CacheInfo:
    """The teacher-logit cache a distilled run read: its size and cost per token."""

    path: Path
    total_bytes: int
    signal_bytes: int  # teacher ids + values, without the token windows themselves
    tokens: int
    top_k: int

    @property
    def bytes_per_token(self) -> float:
        return self.signal_bytes / max(self.tokens, 1)


@dataclass(frozen=True, slots=True, kw_only=True)
class Run:
    """One run directory's metadata.json and what it is in the comparison."""

    path: Path
    label: str
    metadata: dict[str, Any]
    cache: CacheInfo | None = None
    sample: str | None = None

    @property
    def epochs(self) -> list[dict[str, Any]]:
        return list(self.metadata.get("epochs", []))

    @property
    def val_loss(self) -> float:
        return float(self.epochs[-1]["val_loss"])

    @property
    def model_dir(self) -> Path | None:
        found = [self.path / d for d in MODEL_SUBDIRS if (self.path / d).is_dir()]
        return found[0] if found else None
