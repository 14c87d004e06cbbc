"""A one-line progress display on stderr for long work; silent when not a tty or --quiet."""

from __future__ import annotations

import sys
from typing import TextIO


class Progress:
    """Redraws `label: step/total loss tokens/s` in place; prints nothing when disabled."""

    def __init__(self, label: str, *, quiet: bool, stream: TextIO | None = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = not quiet and self.stream.isatty()
        self.label = label
        self.drawn = False

    def step(self, done: int, total: int, loss: float, tokens_per_s: float) -> None:
        if not self.enabled:
            return
        self.stream.write(
            f"\r{self.label}: {done}/{total} loss {loss:.4f} {tokens_per_s:,.0f} tok/s"
        )
        self.stream.flush()
        self.drawn = True

    def shard(self, done: int, total: int) -> None:
        if self.enabled:
            self.stream.write(f"\r{self.label}: shard {done}/{total}")
            self.stream.flush()
            self.drawn = True

    def close(self) -> None:
        if self.drawn:
            self.stream.write("\n")
            self.stream.flush()
