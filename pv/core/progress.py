"""A tqdm bar for pv's long runs (`pv falsify --mutants`: one pytest per mutant): steps and
an ETA on stderr, only on a terminal and never with --quiet, so logs and CI stay clean.
tqdm is not one of pv's own dependencies: where it is not installed there is no bar."""

from __future__ import annotations

import sys
from importlib.util import find_spec
from typing import Any, TextIO


class Bar:
    """`advance(note)` after each unit of work; made lazily, closed by `close()`."""

    def __init__(self, label: str, total: int, *, quiet: bool, stream: TextIO | None = None):
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = (
            not quiet and total > 0 and self.stream.isatty() and find_spec("tqdm") is not None
        )
        self.label, self.total = label, total
        self.bar: Any = None

    def advance(self, note: str) -> None:
        if not self.enabled:
            return
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(
                total=self.total, desc=self.label, unit="run", file=self.stream, leave=True
            )
        self.bar.set_postfix_str(note, refresh=False)
        self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
