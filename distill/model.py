"""The built-in byte-level GPT (vocab 256) in named sizes, and the one way to save, find,
load and fingerprint a model directory (`config.json` + `model.safetensors`)."""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from distill.config import _check, _in_range
from distill.errors import ConfigError, ModelError

MODEL_TYPE = "distill-gpt"
# Sub-directories that a run directory keeps its model in, in the order they are tried.
RUN_MODEL_DIRS = ("student", "model", "teacher")


@dataclass(frozen=True, slots=True, kw_only=True)
class GPTConfig:
    """Shape of a decoder-only transformer; `block_size` is the longest context."""

    vocab_size: int = 256
    n_layer: int = 2
    n_head: int = 4
    n_embd: int = 64
    block_size: int = 256

    def __post_init__(self) -> None:
        _in_range("vocab_size", self.vocab_size, 2, 1 << 24)
        _in_range("n_layer", self.n_layer, 1, 256)
        _in_range("n_head", self.n_head, 1, 256)
        _in_range("n_embd", self.n_embd, 1, 1 << 16)
        _in_range("block_size", self.block_size, 2, 1 << 20)
        _check(self.n_embd % self.n_head == 0, "n_embd must be a multiple of n_head")


SIZES: dict[str, GPTConfig] = {
    "tiny": GPTConfig(n_layer=2, n_head=4, n_embd=64),  # ~0.13M params: the student
    "small": GPTConfig(n_layer=4, n_head=4, n_embd=160),  # ~1.3M params: the teacher
    "medium": GPTConfig(n_layer=6, n_head=6, n_embd=192),  # ~2.8M params
}


def resolve_size(spec: str) -> GPTConfig:
    """A named size (`tiny`, `small`, ...) or the path of a JSON file of GPTConfig fields."""
    if spec in SIZES:
        return SIZES[spec]
    path = Path(spec)
    if not path.is_file():
        raise ConfigError(f"unknown model size {spec!r}: use one of {sorted(SIZES)} or a JSON file")
    try:
        fields = json.loads(path.read_text(encoding="utf-8"))
        fields.pop("model_type", None)
        return GPTConfig(**fields)
    except (OSError, ValueError, TypeError) as exc:
        raise ConfigError(f"model config {path}: {exc}") from None


class Block(nn.Module):
    """Pre-norm attention + MLP with residuals."""

    def __init__(self, cfg: GPTConfig) -> None:
        super().__init__()
        self.n_head = cfg.n_head
        self.ln1 = nn.LayerNorm(cfg.n_embd)
        self.qkv = nn.Linear(cfg.n_embd, 3 * cfg.n_embd)
        self.proj = nn.Linear(cfg.n_embd, cfg.n_embd)
        self.ln2 = nn.LayerNorm(cfg.n_embd)
        self.fc = nn.Linear(cfg.n_embd, 4 * cfg.n_embd)
        self.fc_out = nn.Linear(4 * cfg.n_embd, cfg.n_embd)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, c = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(c, dim=2)
        q, k, v = (z.view(b, t, self.n_head, c // self.n_head).transpose(1, 2) for z in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.proj(y.transpose(1, 2).reshape(b, t, c))
        out: torch.Tensor = x + self.fc_out(F.gelu(self.fc(self.ln2(x))))
        return out


class GPT(nn.Module):
    """Byte-level GPT: (B, T) token ids -> (B, T, V) next-token logits; head tied to wte."""

    def __init__(self, cfg: GPTConfig) -> None:
        super().__init__()
        self.config = cfg
        self.vocab_size = cfg.vocab_size
        self.max_seq_len = cfg.block_size
        self.wte = nn.Embedding(cfg.vocab_size, cfg.n_embd)
        self.wpe = nn.Embedding(cfg.block_size, cfg.n_embd)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layer))
        self.ln_f = nn.LayerNorm(cfg.n_embd)
        self.apply(self._init)
        for name, p in self.named_parameters():
            if name.endswith(("proj.weight", "fc_out.weight")):  # GPT-2 residual scaling
                nn.init.normal_(p, std=0.02 / math.sqrt(2 * cfg.n_layer))

    @staticmethod
    def _init(module: nn.Module) -> None:
        if isinstance(module, nn.Linear | nn.Embedding):
            nn.init.normal_(module.weight, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def forward(self, idx: torch.Tensor, *, hidden: bool = False) -> torch.Tensor:
        """Logits (B, T, V); with `hidden`, the final hidden states (B, T, C) instead, for a
        loss fused with the head (`self.wte.weight`, (V, C)) that never builds the logits."""
        t = idx.shape[1]
        if t > self.max_seq_len:
            raise ModelError(f"sequence of {t} tokens exceeds the model's {self.max_seq_len}")
        x = self.wte(idx) + self.wpe(torch.arange(t, device=idx.device))
        for block in self.blocks:
            x = block(x)
        x = self.ln_f(x)
        return x if hidden else F.linear(x, self.wte.weight)


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def is_builtin_dir(path: Path) -> bool:
    try:
        config = json.loads((path / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(config, dict) and config.get("model_type") == MODEL_TYPE


def find_model_dir(path: Path) -> Path:
    """A model directory itself, or the model inside a run directory made by pretrain/train."""
    if (path / "config.json").is_file():
        return path
    for name in RUN_MODEL_DIRS:
        if (path / name / "config.json").is_file():
            return path / name
    raise ModelError(f"no model in {path}: expected config.json there or in {RUN_MODEL_DIRS}")


def load_model(path: Path) -> nn.Module:
    """Load a built-in GPT or a local Hugging Face causal LM; never downloads."""
    model_dir = find_model_dir(path)
    if not is_builtin_dir(model_dir):
        from distill import hf  # transformers is optional and heavy

        return hf.load_causal_lm(model_dir)
    fields = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    fields.pop("model_type")
    try:
        model = GPT(GPTConfig(**fields))
        from safetensors.torch import load_file

        model.load_state_dict(load_file(str(model_dir / "model.safetensors")))
    except (OSError, TypeError, RuntimeError, ConfigError) as exc:
        raise ModelError(f"cannot load model from {model_dir}: {exc}") from None
    return model


def save_model(model: nn.Module, out_dir: Path) -> None:
    """Write `out_dir` (config + safetensors) for either kind of model."""
    if not isinstance(model, GPT):
        from distill import hf

        hf.save_causal_lm(model, out_dir)
        return
    from safetensors.torch import save_file

    out_dir.mkdir(parents=True, exist_ok=True)
    fields: dict[str, Any] = {"model_type": MODEL_TYPE, **_config_fields(model.config)}
    (out_dir / "config.json").write_text(json.dumps(fields, indent=2) + "\n", encoding="utf-8")
    # wpe/wte are tied to the head: save contiguous copies so safetensors accepts them.
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(out_dir / "model.safetensors"))


def _config_fields(cfg: GPTConfig) -> dict[str, int]:
    return {f: getattr(cfg, f) for f in GPTConfig.__dataclass_fields__}


def fingerprint(path: Path) -> str:
    """sha256 over the config and weight files of a model directory, in name order."""
    model_dir = find_model_dir(path)
    digest = hashlib.sha256()
    files = sorted(p for p in model_dir.iterdir() if p.suffix in {".json", ".safetensors", ".bin"})
    for file in files:
        digest.update(file.name.encode())
        with file.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def vocab_size(model: nn.Module) -> int:
    return int(getattr(model, "vocab_size"))  # noqa: B009 - set by GPT and the HF wrapper
