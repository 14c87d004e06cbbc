"""Root conftest: under pytest-xdist each worker is one process per core, so torch's own
intra-op threads would oversubscribe the machine (measured ~10x slower on 2 cores). One thread
per worker; set before any test module imports torch, and inherited by the subprocesses
(torchrun, CLI runs) that tests start."""

from __future__ import annotations

import os

if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("MKL_NUM_THREADS", "1")
