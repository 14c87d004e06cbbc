"""pv: validate contracts, bind falsification ids to checks, run them, report drift.

Its layers, one subpackage each, each importing only from the ones below it (import-linter's
`layers` contract in pyproject.toml holds them to it; `make lint` runs it), top first:
cli, views, gate, drift, binding, clis, rules, contracts, core.
pv never imports torch or numpy; its base install has neither."""

from __future__ import annotations

__version__ = "0.1.0"
