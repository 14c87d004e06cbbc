"""pytest plugin `pv`: registers the `falsifies` marker and maps test results back to
falsification ids. Imported by pytest on every run, so it imports nothing heavy."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "falsifies(*ids): this test is the executable check behind the given FALSIFY ids",
    )
