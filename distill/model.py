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

from distill.config import Bounds, check_knobs, knob
from distill.errors import ConfigError, ModelError

MODEL_TYPE = "distill-gpt"
# Sub-directories that a run directory keeps its model in, in the order they are tried.
RUN_MODEL_DIRS = ("student", "model", "teacher")
WEIGHTS = "model.safetensors"
CONFIG_DIGEST, WEIGHTS_DIGEST = "distill.config_sha256", "distill.weights_sha256"
# The digests travel in one safetensors metadata entry holding canonical JSON: the writer keeps
# its metadata in a hash map whose order changes from process to process, so two entries would
# make the same model two different files.
META_KEY = "distill"


@dataclass(frozen=True, slots=True, kw_only=True)
class GPTConfig:
    """Shape of a decoder-only transformer; `block_size` is the longest context."""

    vocab_size: int = knob(256, "Token ids the model embeds, in {range}.", Bounds(2, 1 << 24))
    n_layer: int = knob(2, "Transformer blocks, in {range}.", Bounds(1, 256))
    n_head: int = knob(4, "Attention heads per block, in {range}.", Bounds(1, 256))
    n_embd: int = knob(64, "Width, a multiple of n_head, in {range}.", Bounds(1, 1 << 16))
    block_size: int = knob(256, "Longest context in tokens, in {range}.", Bounds(2, 1 << 20))

    def __post_init__(self) -> None:
        check_knobs(self)
        if self.n_embd % self.n_head:
            raise ConfigError("n_embd must be a multiple of n_head")


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


class KVCache:
    """Every layer's keys and values so far, (B, H, L, D) each, preallocated to the model's
    context: a decoding step attends to them instead of recomputing the prefix."""

    def __init__(self, model: GPT, batch: int, device: torch.device, dtype: torch.dtype) -> None:
        cfg = model.config
        shape = (batch, cfg.n_head, cfg.block_size, cfg.n_embd // cfg.n_head)
        self.keys = [torch.empty(shape, device=device, dtype=dtype) for _ in range(cfg.n_layer)]
        self.values = [torch.empty(shape, device=device, dtype=dtype) for _ in range(cfg.n_layer)]
        self.length = 0  # positions filled


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

    def forward(
        self, x: torch.Tensor, kv: tuple[torch.Tensor, torch.Tensor] | None = None, start: int = 0
    ) -> torch.Tensor:
        """`x` holds positions start..start+T; with `kv` (a KVCache layer) their keys and
        values are stored there and the attention also reads the `start` before them."""
        b, t, c = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(c, dim=2)
        q, k, v = (z.view(b, t, self.n_head, c // self.n_head).transpose(1, 2) for z in (q, k, v))
        mask: torch.Tensor | None = None
        if kv is not None:
            kv[0][:, :, start : start + t] = k
            kv[1][:, :, start : start + t] = v
            k, v = kv[0][:, :, : start + t], kv[1][:, :, : start + t]
            if start and t > 1:  # new positions see the cached ones and the causal part
                mask = torch.ones(t, start + t, dtype=torch.bool, device=x.device).tril(start)
        causal = mask is None and start == 0
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=causal)
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

    def forward(
        self, idx: torch.Tensor, *, hidden: bool = False, cache: KVCache | None = None
    ) -> torch.Tensor:
        """Logits (B, T, V); with `hidden`, the final hidden states (B, T, C) instead, for a
        loss fused with the head (`self.wte.weight`, (V, C)) that never builds the logits.
        With `cache`, `idx` continues the positions the cache holds, and extends it."""
        t = idx.shape[1]
        start = cache.length if cache is not None else 0
        if start + t > self.max_seq_len:
            raise ModelError(
                f"sequence of {start + t} tokens exceeds the model's {self.max_seq_len}"
            )
        x = self.wte(idx) + self.wpe(torch.arange(start, start + t, device=idx.device))
        for i, block in enumerate(self.blocks):
            kv = (cache.keys[i], cache.values[i]) if cache is not None else None
            x = block(x, kv, start)
        if cache is not None:
            cache.length = start + t
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
    fields = _read_config(model_dir / "config.json")
    if fields.get("model_type") != MODEL_TYPE and not _has_digest(model_dir / WEIGHTS):
        from distill import hf  # transformers is optional and heavy

        return hf.load_causal_lm(model_dir)
    state, meta = _read_weights(model_dir / WEIGHTS)
    meta = _digests(meta, model_dir / WEIGHTS)
    # digests written beside the weights: safetensors itself checks no content, so a
    # flipped byte would otherwise load as a model with garbage weights
    if WEIGHTS_DIGEST in meta and meta[WEIGHTS_DIGEST] != _digest(state):
        raise ModelError(f"{model_dir / WEIGHTS} is damaged: its tensors do not match their digest")
    if CONFIG_DIGEST in meta and meta[CONFIG_DIGEST] != _digest(fields):
        raise ModelError(
            f"{model_dir / 'config.json'} is damaged: it does not match the digest saved "
            f"with the weights in {WEIGHTS}"
        )
    fields = {k: v for k, v in fields.items() if k != "model_type"}
    try:
        model = GPT(GPTConfig(**fields))
        model.load_state_dict(state)
    except (TypeError, ValueError, RuntimeError, ConfigError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ModelError(f"cannot load model from {model_dir}: {first}") from None
    return model


def _read_config(path: Path) -> dict[str, Any]:
    try:
        fields = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot read {path} (damaged?): {exc}") from None
    if not isinstance(fields, dict):
        raise ModelError(f"{path} is damaged: not a JSON object")
    return fields


def _read_weights(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as fh:
            meta = fh.metadata() or {}
            return {k: fh.get_tensor(k) for k in fh.keys()}, meta  # noqa: SIM118 - not a dict
    except Exception as exc:  # safetensors raises its own error types for a damaged file
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ModelError(f"cannot read {path} (damaged?): {first}") from None


def _digests(meta: dict[str, str], path: Path) -> dict[str, str]:
    """The digests saved with the weights: one canonical-JSON entry (older files: two)."""
    if META_KEY not in meta:
        return meta
    try:
        value = json.loads(meta[META_KEY])
    except ValueError:
        raise ModelError(f"cannot read {path} (damaged?): its metadata is not JSON") from None
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise ModelError(f"cannot read {path} (damaged?): its metadata is not digests")
    return {f"distill.{k}": v for k, v in value.items()}


def _has_digest(path: Path) -> bool:
    """Whether `path` holds weights this engine saved (with digests), damaged or not."""
    try:
        with path.open("rb") as fh:
            return b"weights_sha256" in fh.read(1 << 16)
    except OSError:
        return False


def _digest(value: dict[str, Any]) -> str:
    """sha256 of a config (canonical JSON) or of tensors (name, dtype, shape, bytes)."""
    digest = hashlib.sha256()
    for key in sorted(value):
        item = value[key]
        if isinstance(item, torch.Tensor):
            t = item.detach().cpu().contiguous()
            digest.update(f"{key}\0{t.dtype}\0{tuple(t.shape)}\0".encode())
            digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
        else:
            digest.update(json.dumps({key: item}, sort_keys=True).encode())
    return digest.hexdigest()


def save_model(model: nn.Module, out_dir: Path) -> None:
    """Write `out_dir` (config + safetensors) for either kind of model."""
    if not isinstance(model, GPT):
        from distill import hf

        hf.save_causal_lm(model, out_dir)
        return
    from safetensors.torch import save_file

    from distill.durable import writing

    out_dir.mkdir(parents=True, exist_ok=True)
    fields: dict[str, Any] = {"model_type": MODEL_TYPE, **_config_fields(model.config)}
    with writing(out_dir / "config.json"):
        (out_dir / "config.json").write_text(json.dumps(fields, indent=2) + "\n", encoding="utf-8")
    # wpe/wte are tied to the head: save contiguous copies so safetensors accepts them.
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    digests = {"config_sha256": _digest(fields), "weights_sha256": _digest(state)}
    meta = {META_KEY: json.dumps(digests, sort_keys=True, separators=(",", ":"))}
    with writing(out_dir / WEIGHTS):
        save_file(state, str(out_dir / WEIGHTS), metadata=meta)


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
