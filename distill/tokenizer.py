"""The two tokenizers a store can be made with, behind one interface: raw bytes (the built-in
GPT's) and a local Hugging Face tokenizer. Each has an identity (name + fingerprint), so a
store, a cache and a model are checked to speak the same ids before any work."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from distill.errors import ModelError

BYTES = "bytes"
# NUL never occurs in text, so it separates documents without being mistaken for one.
BYTE_EOS = 0
BYTE_SPEC = b"distill-bytes-v1: id = byte value, 256 ids, document separator = 0"


@dataclass(frozen=True, slots=True, kw_only=True)
class TokenizerId:
    """What a tokenizer is: `name` for people, `fingerprint` (sha256) for the checks."""

    name: str
    fingerprint: str
    vocab_size: int
    eos_id: int | None

    @property
    def label(self) -> str:
        """`name:fingerprint`, as stores and caches record it."""
        return f"{self.name}:{self.fingerprint}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "fingerprint": self.fingerprint,
            "vocab_size": self.vocab_size,
            "eos_id": self.eos_id,
        }


BYTE_ID = TokenizerId(
    name=BYTES, fingerprint=hashlib.sha256(BYTE_SPEC).hexdigest(), vocab_size=256, eos_id=BYTE_EOS
)


def _full(label: str) -> str:
    """Caches written before tokenizers were recorded say plain `bytes`: that is BYTE_ID."""
    return BYTE_ID.label if label == BYTES else label


def same(a: str, b: str) -> bool:
    """Two recorded labels name one tokenizer when their fingerprints agree."""
    return _full(a).rsplit(":", 1)[-1] == _full(b).rsplit(":", 1)[-1]


def describe(label: str) -> str:
    """`GPT2TokenizerFast (sha256 1a2b3c4d5e6f)`: a label shortened for a message."""
    name, _, fp = _full(label).rpartition(":")
    return f"{name} (sha256 {fp[:12]})"


class Tokenizer(Protocol):
    ident: TokenizerId

    def encode(self, texts: list[bytes]) -> list[np.ndarray]:
        """One id array per text (utf-8 bytes), no special tokens added."""


class ByteTokenizer:
    ident = BYTE_ID

    def encode(self, texts: list[bytes]) -> list[np.ndarray]:
        return [np.frombuffer(text, dtype=np.uint8) for text in texts]


class HFTokenizer:
    """A fast HF tokenizer: one batched call per group of documents (Rust, all cores)."""

    def __init__(self, tok: Any, ident: TokenizerId) -> None:
        self.tok = tok
        self.ident = ident

    def encode(self, texts: list[bytes]) -> list[np.ndarray]:
        decoded = [text.decode("utf-8", errors="replace") for text in texts]
        out = self.tok(decoded, add_special_tokens=False, return_attention_mask=False)
        return [np.asarray(ids, dtype=np.int64) for ids in out["input_ids"]]


def _fingerprint(tok: Any) -> str:
    """sha256 of what decides the ids: the backend's model, normalizer and pre-tokenizer plus
    the special tokens; never file names or paths, so two saved copies agree."""
    backend = getattr(tok, "backend_tokenizer", None)
    if backend is not None:
        spec = json.loads(backend.to_str())
        for volatile in ("truncation", "padding"):
            spec.pop(volatile, None)
    else:
        spec = sorted(tok.get_vocab().items())
    body = {"spec": spec, "special": sorted(map(str, tok.all_special_tokens))}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def load(model_dir: Path | None) -> Tokenizer:
    """Bytes for no directory, a built-in model or a HF model without tokenizer files;
    otherwise the HF tokenizer found there (local files only)."""
    if model_dir is None:  # bytes: no torch import, so `distill prepare` starts at once
        return ByteTokenizer()
    from distill import hf
    from distill.model import is_builtin_dir

    if is_builtin_dir(model_dir) or not hf.has_tokenizer(model_dir):
        return ByteTokenizer()
    transformers = hf.transformers_module()
    try:
        tok = transformers.AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
    except (OSError, ValueError, KeyError) as exc:
        raise ModelError(f"cannot load the tokenizer in {model_dir}: {exc}") from None
    ident = TokenizerId(
        name=type(tok).__name__,
        fingerprint=_fingerprint(tok),
        vocab_size=len(tok),
        eos_id=tok.eos_token_id,
    )
    return HFTokenizer(tok, ident)
