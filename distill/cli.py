"""The `distill` command line: click options -> one frozen config -> the stage function.
DistillError subclasses become one-line errors with exit 1."""

from __future__ import annotations

import click

from distill import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="distill")
def main() -> None:
    """Knowledge distillation for causal LMs: pretrain, precompute, train, generate, run."""
