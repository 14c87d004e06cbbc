"""Local Hugging Face causal LMs as teacher or student (the `hf` extra). Everything is
loaded with local_files_only: nothing is ever downloaded at run time."""

from __future__ import annotations

import inspect
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from distill.errors import ModelError

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.json", "tokenizer.model")
# Copied beside a saved student, so AutoTokenizer loads the directory as it is.
TOKENIZER_EXTRAS = (
    "merges.txt",
    "special_tokens_map.json",
    "added_tokens.json",
    "chat_template.jinja",
)


def transformers_module() -> Any:
    try:
        import transformers
    except ImportError:
        raise ModelError(
            "this model directory is not a built-in distill model and transformers is not "
            "installed: pip install 'pv-distill[hf]'"
        ) from None
    transformers.utils.logging.set_verbosity_error()  # type: ignore[no-untyped-call]
    transformers.utils.logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    return transformers


class HFCausalLM(nn.Module):
    """(B, T) ids -> (B, T, V) logits, the same interface as the built-in GPT.

    `limit_vocab(n)` cuts the logits to the tokenizer's n real ids: the rows a checkpoint pads
    its embedding with (151936 vs 152064) then never enter a cache, a KL or a gradient.
    """

    def __init__(self, inner: nn.Module, source: Path | None = None) -> None:
        super().__init__()
        self.inner = inner
        self.source = source  # where its tokenizer files are copied from when it is saved
        config = getattr(inner, "config")  # noqa: B009 - every HF model has one
        self.vocab_size = int(config.vocab_size)
        self.vocab_limit: int | None = None
        self.max_seq_len = int(
            getattr(config, "max_position_embeddings", None)
            or getattr(config, "n_positions", None)
            or 1 << 20
        )

    def limit_vocab(self, n: int) -> None:
        self.vocab_limit = self.vocab_size = n

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        logits: torch.Tensor = self.inner(input_ids=idx).logits
        return logits if self.vocab_limit is None else logits[..., : self.vocab_limit]

    def decode(self, idx: torch.Tensor, past: Any) -> tuple[torch.Tensor, Any]:
        """Logits of `idx` continuing the positions in `past` (the model's own KV cache, None
        at the start), and the extended cache."""
        # transformers 5 names the cache `cache`; 4.x `past_key_values`
        params = inspect.signature(self.inner.forward).parameters
        key = "cache" if "cache" in params else "past_key_values"
        out = self.inner(input_ids=idx, use_cache=True, **{key: past})
        logits: torch.Tensor = out.logits
        if self.vocab_limit is not None:
            logits = logits[..., : self.vocab_limit]
        return logits, out[key]


def load_causal_lm(model_dir: Path) -> HFCausalLM:
    transformers = transformers_module()
    try:
        inner = transformers.AutoModelForCausalLM.from_pretrained(
            str(model_dir), local_files_only=True, dtype=torch.float32
        )
    except (OSError, ValueError, KeyError) as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"cannot load model from {model_dir}: {first_line}") from None
    return HFCausalLM(inner, source=model_dir)


def save_causal_lm(model: nn.Module, out_dir: Path) -> None:
    transformers_module()
    inner = model.inner if isinstance(model, HFCausalLM) else model
    save = getattr(inner, "save_pretrained", None)
    if save is None:
        raise ModelError(f"cannot save a {type(model).__name__}: not a Hugging Face model")
    save(str(out_dir))
    source = model.source if isinstance(model, HFCausalLM) else None
    for name in (*TOKENIZER_FILES, *TOKENIZER_EXTRAS):
        if source is not None and (source / name).is_file():
            shutil.copyfile(source / name, out_dir / name)


def has_tokenizer(model_dir: Path) -> bool:
    return any((model_dir / name).is_file() for name in TOKENIZER_FILES)


def encode(model_dir: Path, text: str) -> np.ndarray:
    """Tokenise `text` with the model's own tokenizer (local files only) -> int64 ids."""
    transformers = transformers_module()
    try:
        tok = transformers.AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot load the tokenizer in {model_dir}: {exc}") from None
    return np.asarray(tok(text)["input_ids"], dtype=np.int64)


def decode(model_dir: Path, ids: list[int]) -> str:
    transformers = transformers_module()
    tok = transformers.AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
    return str(tok.decode(ids))
