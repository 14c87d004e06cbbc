"""pv's progress bar (tqdm): silent off a terminal and with --quiet, and never drawn for
zero units of work."""

from __future__ import annotations

import io

from pv.core.progress import Bar


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_bar_is_silent_off_a_terminal_with_quiet_or_with_nothing_to_do() -> None:
    for stream, quiet, total in ((io.StringIO(), False, 2), (Tty(), True, 2), (Tty(), False, 0)):
        bar = Bar("mutants", total, quiet=quiet, stream=stream)
        bar.advance("x")
        bar.close()
        assert stream.getvalue() == ""


def test_the_bar_counts_runs_with_a_note_and_an_eta() -> None:
    stream = Tty()
    bar = Bar("mutants", 4, quiet=False, stream=stream)
    bar.advance("stub; 1/1 killed")
    bar.close()
    last = stream.getvalue().split("\r")[-1]
    assert last.startswith("mutants:  25%")
    assert "1/4" in last
    assert "<" in last
    assert "stub; 1/1 killed" in last
