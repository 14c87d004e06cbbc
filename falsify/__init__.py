"""Executable checks behind the contracts' falsification ids (one module per contract), and
the mutants that prove each check can fail."""
