"""What a run report knows of one run directory: its metadata, its label in the comparison,
the cache it read and a sample. Below both the report (which gathers them) and the page (which
shows them)."""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MODEL_SUBDIRS = ("model", "student")
# an epoch record's clock figures: the only values in a run's files that its inputs do not fix
WALL_CLOCK = ("wall_seconds", "tokens_per_second")
_CLOCK_CELL = re.compile(rb'<td class="clock">[^<]*</td>')  # how distill.page marks them


def content_digests(root: Path) -> dict[str, str]:
    """sha256 of every file under `root` by relative path, as a reader finds it (through the
    published symlinks): the bytes distill promises are fixed by a run's inputs. Left out are
    hidden entries, distill's bookkeeping (locks holding a pid, the versions behind the links,
    a killed writer's partials, which distill.durable sweeps), and in metadata.json and report
    pages the clock's figures, nothing else."""
    paths: list[Path] = []
    for folder, dirs, files in os.walk(root, followlinks=True):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        paths += [Path(folder, f) for f in files if not f.startswith(".")]
    out: dict[str, str] = {}
    for path in sorted(paths):
        data = path.read_bytes()
        if path.name == "metadata.json":
            meta = json.loads(data)
            for epoch in meta.get("epochs", []):
                for key in WALL_CLOCK:
                    epoch.pop(key, None)
            data = json.dumps(meta, sort_keys=True).encode()
        elif path.suffix == ".html":
            data = _CLOCK_CELL.sub(b"", data)
        out[path.relative_to(root).as_posix()] = hashlib.sha256(data).hexdigest()
    return out


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
