"""Drift between the CLIs, the registry, the tests and the contracts, and the test surface it
judges them by (observed calls, or the static scan). May import pv.binding and below."""
