"""`distill export --format hf`: the built-in GPT as GPT-2 with a byte tokenizer; transformers
loads the directory as it is and its logits equal ours within 1e-5 on random ids."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from distill import export, model
from distill.cli import main
from tests.distill.conftest import TinyRun

transformers = pytest.importorskip("transformers")


def _trained_like(cfg: model.GPTConfig) -> model.GPT:
    """Random weights with non-trivial biases and norms, so no mapping error hides as zero."""
    torch.manual_seed(0)
    net = model.GPT(cfg)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    return net.eval()


def test_the_exported_gpt2_computes_our_logits_within_1e_5(tmp_path: Path) -> None:
    cfg = model.GPTConfig(n_layer=2, n_head=4, n_embd=32, block_size=48)
    net = _trained_like(cfg)
    model.save_model(net, tmp_path / "m")
    result = CliRunner().invoke(
        main,
        ["export", "--model", str(tmp_path / "m"), "--format", "hf", "--out", str(tmp_path / "hf")],
    )
    assert result.exit_code == 0, result.output
    loaded = transformers.AutoModelForCausalLM.from_pretrained(str(tmp_path / "hf")).eval()
    ids = torch.randint(0, 256, (3, 48), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        ours, theirs = net(ids), loaded(input_ids=ids).logits
    assert theirs.shape == ours.shape
    assert torch.allclose(theirs, ours, atol=1e-5, rtol=0), (theirs - ours).abs().max()


def test_the_exported_tokenizer_encodes_bytes_as_their_values(tmp_path: Path) -> None:
    net = _trained_like(model.GPTConfig(n_layer=1, n_head=2, n_embd=16, block_size=16))
    model.save_model(net, tmp_path / "m")
    export.to_hf(tmp_path / "m", tmp_path / "hf")
    tok = transformers.AutoTokenizer.from_pretrained(str(tmp_path / "hf"))
    text = "Grüße\n\t{x}\x00 "
    assert tok(text)["input_ids"] == list(text.encode("utf-8"))
    assert tok.decode(list(text.encode("utf-8"))) == text
    assert tok.eos_token_id == 0
    assert len(tok) == 256


def test_a_run_directory_is_exported_and_generates(tiny_run: TinyRun, tmp_path: Path) -> None:
    out = export.to_hf(tiny_run.teacher, tmp_path / "hf")
    loaded = transformers.AutoModelForCausalLM.from_pretrained(str(out))
    tok = transformers.AutoTokenizer.from_pretrained(str(out))
    prompt = tok("The ", return_tensors="pt")
    generated = loaded.generate(**prompt, max_new_tokens=4, do_sample=False)
    assert generated.shape[1] == prompt["input_ids"].shape[1] + 4


def test_export_refuses_a_hf_model_and_an_existing_output(
    tmp_path: Path, tiny_run: TinyRun
) -> None:
    transformers.GPT2LMHeadModel(
        transformers.GPT2Config(vocab_size=256, n_positions=8, n_embd=8, n_layer=1, n_head=2)
    ).save_pretrained(str(tmp_path / "hfm"))
    runner = CliRunner()
    result = runner.invoke(
        main, ["export", "--model", str(tmp_path / "hfm"), "--out", str(tmp_path / "o")]
    )
    assert result.exit_code == 1
    assert "is already a Hugging Face model" in result.stderr
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "x").write_text("keep", encoding="utf-8")
    result = runner.invoke(
        main, ["export", "--model", str(tiny_run.teacher), "--out", str(tmp_path / "taken")]
    )
    assert result.exit_code == 1
    assert "already exists" in result.stderr
    assert [p.name for p in (tmp_path / "taken").iterdir()] == ["x"]
