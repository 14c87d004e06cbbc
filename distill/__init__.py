"""distill: a PyTorch knowledge-distillation engine (pretrain, precompute, train, generate)."""

from __future__ import annotations

__version__ = "0.1.0"
