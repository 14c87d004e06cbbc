"""pv: validate contracts, bind falsification ids to checks, run them, report drift."""

from __future__ import annotations

__version__ = "0.1.0"
