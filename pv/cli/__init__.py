"""The `pv` command line (`pv.cli:main`, the console script): the click group and its
commands. The top layer: may import every other."""

from pv.cli.app import main

__all__ = ["main"]
