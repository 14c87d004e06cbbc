"""`distill export --format hf`: the built-in byte GPT written as the standard GPT-2 it maps
onto (same blocks, exact GELU, tied head) plus a tokenizer whose ids are the bytes, so
transformers, vLLM and llama.cpp converters load it with no distill code."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import torch

from distill import hf
from distill.errors import ModelError, OutputExistsError
from distill.model import GPT, find_model_dir, is_builtin_dir, load_model
from distill.tokenizer import BYTE_EOS

# Our Linear (out, in) weights become GPT-2's Conv1D (in, out): these are transposed.
LINEAR = {"qkv": "attn.c_attn", "proj": "attn.c_proj", "fc": "mlp.c_fc", "fc_out": "mlp.c_proj"}
NORMS = {"ln1": "ln_1", "ln2": "ln_2"}


def byte_to_char() -> dict[int, str]:
    """GPT-2's byte-level alphabet: every byte as one printable character (its BPE's base)."""
    keep = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1)]
    keep += range(ord("®"), ord("ÿ") + 1)
    rest = [b for b in range(256) if b not in keep]
    chars = {b: chr(b) for b in keep}
    chars.update({b: chr(256 + n) for n, b in enumerate(rest)})
    return chars


def byte_tokenizer() -> Any:
    """A fast tokenizer whose id for every byte is the byte's value; NUL ends a document."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers

    chars = byte_to_char()
    tok = Tokenizer(models.BPE(vocab={chars[b]: b for b in range(256)}, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    tok.decoder = decoders.ByteLevel()
    fast = hf.transformers_module().PreTrainedTokenizerFast
    return fast(tokenizer_object=tok, eos_token=chars[BYTE_EOS])


def gpt2_state(net: GPT) -> dict[str, torch.Tensor]:
    """Our state dict under GPT-2's names and layouts."""
    state: dict[str, torch.Tensor] = {
        "transformer.wte.weight": net.wte.weight,
        "transformer.wpe.weight": net.wpe.weight,
        "transformer.ln_f.weight": net.ln_f.weight,
        "transformer.ln_f.bias": net.ln_f.bias,
    }
    for i, block in enumerate(net.blocks):
        prefix = f"transformer.h.{i}."
        for ours, theirs in LINEAR.items():
            layer = getattr(block, ours)
            state[f"{prefix}{theirs}.weight"] = layer.weight.t()
            state[f"{prefix}{theirs}.bias"] = layer.bias
        for ours, theirs in NORMS.items():
            state[f"{prefix}{theirs}.weight"] = getattr(block, ours).weight
            state[f"{prefix}{theirs}.bias"] = getattr(block, ours).bias
    return {k: v.detach().contiguous().clone() for k, v in state.items()}


def as_gpt2(net: GPT) -> Any:
    """The GPT-2 LM with our weights (eval mode, no dropout)."""
    transformers = hf.transformers_module()
    cfg = net.config
    config = transformers.GPT2Config(
        vocab_size=cfg.vocab_size,
        n_positions=cfg.block_size,
        n_embd=cfg.n_embd,
        n_layer=cfg.n_layer,
        n_head=cfg.n_head,
        activation_function="gelu",  # ours is the exact erf GELU, not GPT-2's tanh form
        layer_norm_epsilon=1e-5,
        resid_pdrop=0.0,
        embd_pdrop=0.0,
        attn_pdrop=0.0,
        bos_token_id=BYTE_EOS,
        eos_token_id=BYTE_EOS,
        tie_word_embeddings=True,
    )
    out = transformers.GPT2LMHeadModel(config)
    missing, unexpected = out.load_state_dict(gpt2_state(net), strict=False)
    if unexpected or set(missing) - {"lm_head.weight"}:  # the head is tied to wte
        raise ModelError(f"GPT-2 mapping incomplete: missing {missing}, unexpected {unexpected}")
    out.tie_weights()
    return out.eval()


def to_hf(model_path: Path, out: Path) -> Path:
    """Write `out` (config, safetensors, tokenizer), published by one rename."""
    model_dir = find_model_dir(model_path)
    if not is_builtin_dir(model_dir):
        raise ModelError(f"{model_dir} is already a Hugging Face model: load it as it is")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise OutputExistsError(f"--out {out} already exists: choose a new directory")
    net = load_model(model_dir)
    assert isinstance(net, GPT)  # is_builtin_dir said so
    gpt2 = as_gpt2(net)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.partial-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        gpt2.save_pretrained(str(tmp))
        byte_tokenizer().save_pretrained(str(tmp))
        os.replace(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out
