"""The `pv` command line: thin click wrappers that parse options, call the noun modules and
turn their results into output and an exit code (0 ok, 1 findings, 2 usage / nothing to check).

Must stay light: importing this module never imports torch.
"""

from __future__ import annotations

import click

from pv import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="pv")
def main() -> None:
    """Contract-driven verification: validate contracts, run their falsification checks,
    report drift between CLIs, the command registry, the tests and the contracts."""


# --- validate / schema ------------------------------------------------------------------


# --- falsify ----------------------------------------------------------------------------


# --- drift / gate / status / audit / coverage / graph / diff / equations -----------------
