"""`python -m distill`, and so `torchrun --nproc_per_node N -m distill train ...`: the same
command line as the `distill` script."""

from __future__ import annotations

from distill.cli import main

if __name__ == "__main__":
    main()
