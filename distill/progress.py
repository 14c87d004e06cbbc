"""Progress bars for the long stages (tqdm): stage name, steps, loss, tokens/s and an ETA on
stderr; silent with --quiet or when stderr is not a terminal; under torchrun each rank draws
its own line (tqdm's `position`), labelled with its rank."""

from __future__ import annotations

import os
import sys
from typing import Any, TextIO


class Progress:
    """A tqdm bar made on the first update, so a run that never steps draws nothing."""

    def __init__(self, label: str, *, quiet: bool, stream: TextIO | None = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = not quiet and self.stream.isatty()
        self.rank = int(os.environ.get("RANK", "0"))
        world = int(os.environ.get("WORLD_SIZE", "1"))
        self.label = label if world <= 1 else f"{label} [rank {self.rank}]"
        self.bar: Any = None
        self.tokens = 0

    def _bar(self, done: int, total: int, unit: str) -> Any:
        if self.bar is None:
            from tqdm import tqdm

            # initial = the step a resumed run starts from, so the ETA is not skewed by it
            self.bar = tqdm(
                total=total,
                initial=max(done - 1, 0),
                desc=self.label,
                unit=unit,
                file=self.stream,
                position=self.rank,
                dynamic_ncols=True,
                leave=True,
            )
        return self.bar

    def step(self, done: int, total: int, loss: float, tokens_per_s: float) -> None:
        """After optimizer step `done` of `total`: the loss so far this epoch, tokens/s."""
        if not self.enabled:
            return
        bar = self._bar(done, total, "step")
        bar.set_postfix_str(f"loss {loss:.4f}, {tokens_per_s:,.0f} tok/s", refresh=False)
        bar.update(done - bar.n)

    def shard(self, done: int, total: int, tokens: int) -> None:
        """After cache shard `done` of `total`, which held `tokens` teacher positions."""
        if not self.enabled:
            return
        bar = self._bar(done, total, "shard")
        self.tokens += tokens
        tokens_per_s = self.tokens / max(bar.format_dict["elapsed"], 1e-9)
        bar.set_postfix_str(f"{tokens_per_s:,.0f} tok/s", refresh=False)
        bar.update(done - bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
