"""Which models, caches and stores may be paired: they must share one tokenizer (by
fingerprint); a Hugging Face model whose embedding is padded past its tokenizer (151936 vs
152064 rows) is accepted with the padding cut from its logits, so it never enters a KL."""

from __future__ import annotations

from pathlib import Path

import torch

from distill import cache, hf, model, tokenizer
from distill.errors import ModelError


def real_vocab(net: torch.nn.Module, model_dir: Path) -> int:
    """The ids a HF model's tokenizer can produce: rows beyond them are padding, cut away."""
    ident = tokenizer.load(model_dir).ident
    padded = ident.name != tokenizer.BYTES and ident.vocab_size < model.vocab_size(net)
    if padded and isinstance(net, hf.HFCausalLM):
        net.limit_vocab(ident.vocab_size)
    return model.vocab_size(net)


def check_student(
    teacher_cache: cache.TeacherCache,
    cache_path: Path,
    student: torch.nn.Module,
    student_path: Path | None,
) -> None:
    """Refuse a student that reads other ids than the cache; accept a padded vocabulary."""
    theirs = str(teacher_cache.manifest["data"].get("tokenizer", tokenizer.BYTES))
    mine = tokenizer.load(model.find_model_dir(student_path) if student_path else None).ident
    if not tokenizer.same(theirs, mine.label):
        where = student_path or "(the built-in GPT)"
        raise ModelError(
            f"tokenizer mismatch: the cache {cache_path} was made with "
            f"{tokenizer.describe(theirs)}, the student {where} uses "
            f"{tokenizer.describe(mine.label)}; distil between models that share one tokenizer"
        )
    if student_path is not None and model.vocab_size(student) != teacher_cache.vocab_size:
        real_vocab(student, model.find_model_dir(student_path))
    if model.vocab_size(student) != teacher_cache.vocab_size:
        raise ModelError(
            f"vocabulary mismatch: the teacher cache has {teacher_cache.vocab_size} ids, "
            f"the student {model.vocab_size(student)}; they must share one vocabulary"
        )
