"""The progress line is silent unless stderr is a terminal and --quiet is off."""

from __future__ import annotations

import io

from distill.progress import Progress


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_is_silent_when_not_a_tty() -> None:
    stream = io.StringIO()
    bar = Progress("train", quiet=False, stream=stream)
    bar.step(1, 10, 2.5, 1000.0)
    bar.close()
    assert stream.getvalue() == ""


def test_progress_is_silent_with_quiet_even_on_a_tty() -> None:
    stream = Tty()
    Progress("train", quiet=True, stream=stream).step(1, 10, 2.5, 1000.0)
    assert stream.getvalue() == ""


def test_progress_shows_step_loss_and_throughput_on_a_tty() -> None:
    stream = Tty()
    bar = Progress("train", quiet=False, stream=stream)
    bar.step(3, 10, 2.5, 1234.0)
    bar.close()
    assert stream.getvalue() == "\rtrain: 3/10 loss 2.5000 1,234 tok/s\n"
