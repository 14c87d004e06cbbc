"""Local Hugging Face causal LMs as teacher: a tiny random GPT-2 the test builds itself."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner, Result

from distill.cli import main
from tests.distill.conftest import TinyRun

transformers = pytest.importorskip("transformers")


def tiny_gpt2(path: Path, vocab_size: int) -> Path:
    config = transformers.GPT2Config(
        vocab_size=vocab_size,
        n_positions=64,
        n_embd=32,
        n_layer=1,
        n_head=2,
        bos_token_id=0,
        eos_token_id=0,
    )
    transformers.utils.logging.disable_progress_bar()
    transformers.GPT2LMHeadModel(config).save_pretrained(str(path))
    return path


def precompute(
    runner: CliRunner, teacher: Path, out: Path, run: TinyRun, *, max_windows: int
) -> Result:
    """`distill precompute` of `teacher` over the tiny run's corpus into `out`."""
    args = [
        *("precompute", "--teacher", teacher, "--out", out, "--data", run.data_file),
        *("--seq-len", 32, "--max-windows", max_windows, "--device", "cpu", "--quiet"),
    ]
    return runner.invoke(main, [str(a) for a in args])


def train(runner: CliRunner, cache: Path, out: Path, run: TinyRun, *extra: str) -> Result:
    """`distill train` of the tiny run's student size from `cache` into `out`."""
    args = ["train", "--cache", str(cache), "--out", str(out)]
    args += ["--student-size", str(run.size_file), *extra, "--device", "cpu", "--quiet"]
    return runner.invoke(main, args)


def test_a_local_hf_teacher_fills_a_cache_a_builtin_student_learns_from(
    tiny_run: TinyRun, tmp_path: Path
) -> None:
    teacher = tiny_gpt2(tmp_path / "hf", 256)
    runner = CliRunner()
    cache = precompute(runner, teacher, tmp_path / "c", tiny_run, max_windows=16)
    assert cache.exit_code == 0, cache.output
    fast = ["--epochs", "1", "--steps-per-epoch", "4", "--batch-size", "4", "--warmup-steps", "1"]
    student = train(runner, tmp_path / "c", tmp_path / "s", tiny_run, *fast, "--lr", "0.01")
    assert student.exit_code == 0, student.output


def test_a_teacher_with_another_vocabulary_is_refused_before_training(
    tiny_run: TinyRun, tmp_path: Path
) -> None:
    teacher = tiny_gpt2(tmp_path / "hf300", 300)
    runner = CliRunner()
    cache = precompute(runner, teacher, tmp_path / "c", tiny_run, max_windows=4)
    assert cache.exit_code == 0, cache.output
    result = train(runner, tmp_path / "c", tmp_path / "s", tiny_run)
    assert result.exit_code == 1
    assert "error: vocabulary mismatch: the teacher cache has 300 ids, the student 256" in (
        result.stderr
    )
    assert not (tmp_path / "s").exists()


def tiny_tokenizer(path: Path, vocab_size: int, text: str) -> Path:
    """A byte-level BPE trained here on `text` (nothing downloaded), saved into `path`."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=["<|endoftext|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator([text], trainer)
    fast = transformers.PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|endoftext|>")
    fast.save_pretrained(str(path))
    return path


def hf_model(path: Path, vocab_size: int, tokenizer_vocab: int, text: str) -> Path:
    """A tiny GPT-2 whose embedding is padded to `vocab_size` rows past its tokenizer's."""
    tiny_gpt2(path, vocab_size)
    tiny_tokenizer(path, tokenizer_vocab, text)
    return path


def cli(*args: object) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args])


def one_error_line(result: Result) -> str:
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), result.stderr
    return lines[0]


@pytest.fixture(scope="module")
def hf_pair(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Teacher (320 rows) and student (304 rows) padded past one 300-token tokenizer, the
    JSONL corpus, and a store prepared with their tokenizer."""
    from distill.data import default_text

    root = tmp_path_factory.mktemp("hf_pair")
    text = default_text()[:60_000].decode("utf-8", errors="ignore")
    docs = [text[i : i + 600] for i in range(0, len(text), 600)]
    corpus = root / "corpus.jsonl"
    corpus.write_text("".join(json.dumps({"text": d}) + "\n" for d in docs), encoding="utf-8")
    teacher = hf_model(root / "teacher", 320, 300, text)
    student = hf_model(root / "student", 304, 300, text)
    store = root / "store"
    prepared = cli("prepare", "--data", corpus, "--out", store, "--tokenizer", teacher)
    assert prepared.exit_code == 0, prepared.output
    return {"root": root, "teacher": teacher, "student": student, "store": store,
            "corpus": corpus}  # fmt: skip


def test_a_store_prepared_with_a_hf_tokenizer_records_it_in_the_narrowest_dtype(
    hf_pair: dict[str, Path],
) -> None:
    manifest = json.loads((hf_pair["store"] / "manifest.json").read_text(encoding="utf-8"))
    tok = transformers.AutoTokenizer.from_pretrained(str(hf_pair["teacher"]))
    assert manifest["dtype"] == "uint16"
    assert manifest["tokenizer"]["vocab_size"] == len(tok) == 300
    assert manifest["tokenizer"]["eos_id"] == tok.eos_token_id
    tokens = np.fromfile(hf_pair["store"] / "tokens.bin", dtype=np.uint16)
    first = json.loads(hf_pair["corpus"].read_text(encoding="utf-8").splitlines()[0])["text"]
    expected = tok(first, add_special_tokens=False)["input_ids"]
    assert tokens[: len(expected)].tolist() == expected
    assert tokens[len(expected)] == tok.eos_token_id  # the separator between documents


@pytest.fixture(scope="module")
def hf_cache(hf_pair: dict[str, Path]) -> Path:
    """The padded teacher's cache over the store: `precompute` through the CLI."""
    out = hf_pair["root"] / "c"
    cache = cli("precompute", "--teacher", hf_pair["teacher"], "--data", hf_pair["store"],
                "--out", out, "--seq-len", "32", "--max-windows", "16", "--top-k", "8",
                "--device", "cpu", "--quiet")  # fmt: skip
    assert cache.exit_code == 0, cache.output
    return out


def test_hf_round_trip_padded_vocabularies_distil_and_transformers_loads_the_student(
    hf_pair: dict[str, Path], hf_cache: Path
) -> None:
    root = hf_pair["root"]
    manifest = json.loads((hf_cache / "teacher_logits" / "manifest.json").read_text())
    assert manifest["vocab_size"] == 300  # the teacher's 20 padding rows never reach the cache
    ids = np.fromfile(hf_cache / "teacher_logits" / "ids-00000.bin", dtype=np.uint16)
    assert ids.max() < 300
    student = cli("train", "--cache", hf_cache, "--student", hf_pair["student"], "--out",
                  root / "s", "--epochs", "1", "--steps-per-epoch", "3", "--batch-size", "4",
                  "--warmup-steps", "1", "--drift-tolerance", "0", "--device", "cpu",
                  "--quiet")  # fmt: skip
    assert student.exit_code == 0, student.output
    out = root / "s" / "student"
    loaded = transformers.AutoModelForCausalLM.from_pretrained(str(out))
    tok = transformers.AutoTokenizer.from_pretrained(str(out))
    assert loaded.config.vocab_size == 304  # saved whole, padding rows included
    prompt = tok("The ", return_tensors="pt")
    generated = loaded.generate(**prompt, max_new_tokens=5, do_sample=False, pad_token_id=0)
    assert generated.shape[1] == prompt["input_ids"].shape[1] + 5
    assert isinstance(tok.decode(generated[0]), str)
    sample = cli("generate", "--model", root / "s", "--max-new-tokens", "4", "--device", "cpu")
    assert sample.exit_code == 0, sample.output


def test_padding_rows_are_cut_from_the_logits_the_loss_sees(hf_pair: dict[str, Path]) -> None:
    import torch

    from distill import hf

    net = hf.load_causal_lm(hf_pair["student"])
    assert net(torch.zeros(1, 3, dtype=torch.long)).shape[-1] == 304
    net.limit_vocab(300)
    assert net.vocab_size == 300
    assert net(torch.zeros(1, 3, dtype=torch.long)).shape[-1] == 300


def test_models_with_different_tokenizers_are_refused_naming_both(
    hf_pair: dict[str, Path], hf_cache: Path, tiny_run: TinyRun
) -> None:
    root = hf_pair["root"]
    text = (hf_pair["corpus"]).read_text(encoding="utf-8")
    other = hf_model(root / "other", 304, 280, text)
    refused = one_error_line(
        cli(
            "precompute",
            "--teacher",
            other,
            "--data",
            hf_pair["store"],
            "--out",
            root / "x",
            "--seq-len",
            "32",
            "--device",
            "cpu",
            "--quiet",
        )
    )
    assert "tokenizer mismatch: the store" in refused
    assert refused.count("PreTrainedTokenizerFast") + refused.count("TokenizersBackend") == 2
    assert not (root / "x" / "teacher_logits").exists()
    trained = one_error_line(
        cli(
            "train",
            "--cache",
            hf_cache,
            "--student",
            other,
            "--out",
            root / "y",
            "--device",
            "cpu",
            "--quiet",
        )
    )
    assert f"tokenizer mismatch: the cache {hf_cache} was made with" in trained
    assert str(other) in trained
    builtin = one_error_line(
        cli(
            "train",
            "--cache",
            hf_cache,
            "--student-size",
            tiny_run.size_file,
            "--out",
            root / "z",
            "--device",
            "cpu",
            "--quiet",
        )
    )
    assert "the student (the built-in GPT) uses bytes" in builtin
    assert not (root / "y").exists()
    assert not (root / "z").exists()


def test_a_damaged_tokenizer_is_one_error_line(tmp_path: Path) -> None:
    (tmp_path / "tok").mkdir()
    (tmp_path / "tok" / "tokenizer.json").write_text("{", encoding="utf-8")
    (tmp_path / "a.txt").write_text("abc", encoding="utf-8")
    result = cli("prepare", "--data", tmp_path / "a.txt", "--out", tmp_path / "s", "--tokenizer",
                 tmp_path / "tok")  # fmt: skip
    assert "cannot load the tokenizer in" in one_error_line(result)
    assert not (tmp_path / "s").exists()


def test_a_hf_model_samples_with_its_own_kv_cache_as_without_and_continues_on_policy(
    tiny_run: TinyRun, tmp_path: Path
) -> None:
    """`use_cache`: the same greedy ids as recomputing every prefix (past its 64 positions
    too); and a HF student continues on-policy against a HF teacher, then evaluates."""
    import torch

    from distill.generate import sample
    from distill.model import load_model

    student_dir = tiny_gpt2(tmp_path / "student", 256)
    net, cpu = load_model(student_dir), torch.device("cpu")
    cached = sample(net, [72, 105], max_new_tokens=80, temperature=0.0, seed=0, device=cpu)
    plain = sample(
        net, [72, 105], max_new_tokens=80, temperature=0.0, seed=0, device=cpu, use_cache=False
    )
    assert cached == plain
    teacher = tiny_gpt2(tmp_path / "teacher", 256)
    result = cli(
        "onpolicy", "--student", student_dir, "--teacher", teacher, "--out", tmp_path / "on",
        "--data", tiny_run.data_file, "--prompt-len", 8, "--gen-len", 8, "--epochs", 1,
        "--steps-per-epoch", 2, "--batch-size", 2, "--drift-tolerance", 0, "--device", "cpu",
        "--quiet",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    out = cli(
        "eval", "--model", tmp_path / "on", "--teacher", teacher, "--data", tiny_run.data_file,
        "--samples", 4, "--seq-len", 32, "--prompt-len", 8, "--gen-len", 8, "--format", "json",
        "--device", "cpu",
    )  # fmt: skip
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["teacher_nll_of_samples"] > 0
