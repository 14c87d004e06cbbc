"""The divergence options outside the contract's checks: config validation, the refusals of
kd_loss, the cache's logsumexp and tail policies, and the record in metadata.json."""

from __future__ import annotations

import json
import math
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from distill import cache, kernel, stages
from distill.config import TrainConfig
from distill.divergence import Divergence, jsd, reverse_kl, skew_kl
from distill.errors import CacheMismatchError, ConfigError
from distill.loss import TopK, kd_loss
from tests.distill.conftest import TinyRun, micro_train


def _case() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    return torch.randn(6, 9, generator=gen), torch.randn(6, 9, generator=gen), torch.arange(6)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"divergence": "kl"}, "unknown divergence 'kl'"),
        ({"beta": -0.1}, "beta must be in [0, 1], got -0.1"),
        ({"beta": math.nan}, "beta must be in [0, 1]"),
        ({"skew": 1.0}, "skew must be in [0, 1), got 1"),
        ({"skew": math.nan}, "skew must be in [0, 1)"),
        ({"tail": "uniform"}, "unknown tail policy 'uniform'"),
        ({"tail": "bucket", "temperature": 2.0}, "tail bucket needs temperature 1"),
    ],
)
def test_train_config_refuses_bad_divergence_settings(
    fields: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        TrainConfig(**fields)  # type: ignore[arg-type]


def test_divergence_params_name_only_what_each_uses() -> None:
    assert Divergence(name="jsd", beta=0.2).params == {"beta": 0.2}
    assert Divergence(name="skew_kl", skew=0.3).params == {"skew": 0.3}
    assert Divergence(name="reverse_kl", beta=0.2, skew=0.3).params == {}
    assert not Divergence(name="tvd").t_squared
    assert Divergence(name="skew_kl").t_squared
    assert Divergence(name="jsd", beta=1.0).needs_support
    assert not Divergence(name="jsd", beta=0.99).needs_support


def test_kd_loss_refuses_what_it_cannot_compute() -> None:
    s, t, y = _case()
    vals, ids = t.topk(3, dim=-1)
    bare = TopK(ids=ids, values=vals)
    with pytest.raises(ConfigError, match=r"^reverse_kl is infinite .* or another divergence$"):
        kd_loss(s, y, bare, alpha=1.0, temperature=1.0, divergence=Divergence(name="reverse_kl"))
    with pytest.raises(ConfigError, match="needs the teacher's per-token logsumexp"):
        kd_loss(s, y, bare, alpha=1.0, temperature=1.0, tail="bucket")
    with pytest.raises(ConfigError, match="unknown tail policy"):
        kd_loss(s, y, t, alpha=1.0, temperature=1.0, tail="uniform")
    with pytest.raises(ConfigError, match="needs temperature 1"):
        kd_loss(s, y, t, alpha=1.0, temperature=2.0, tail="bucket")
    spec = kernel.ChunkSpec(w_kl=1.0, w_ce=0.0, temperature=1.0, rows=4, tail="bucket")
    with pytest.raises(ConfigError, match=r"^tail bucket needs .* \(the cache's lse\)$"):
        kernel.teacher_dist((ids, vals, None), spec, torch.float32)


def test_tail_bucket_on_a_full_teacher_is_the_full_distribution() -> None:
    s, t, y = _case()
    plain = kd_loss(s, y, t, alpha=0.7, temperature=1.0)
    bucket = kd_loss(s, y, t, alpha=0.7, temperature=1.0, tail="bucket")
    assert float(bucket.total) == float(plain.total)


def test_a_top_k_covering_the_whole_vocabulary_leaves_an_empty_bucket() -> None:
    s, t, y = _case()
    vals, ids = t.topk(9, dim=-1)
    whole = TopK(ids=ids, values=vals, lse=torch.logsumexp(t, -1))
    x = s.clone().requires_grad_(True)
    out = kd_loss(x, y, whole, alpha=1.0, temperature=1.0, tail="bucket")
    out.total.backward()
    full = s.clone().requires_grad_(True)
    ref = kd_loss(full, y, t, alpha=1.0, temperature=1.0)
    ref.total.backward()
    assert out.kl == pytest.approx(ref.kl, rel=1e-5)
    assert x.grad is not None
    assert full.grad is not None
    assert torch.allclose(x.grad, full.grad, atol=1e-6)


def test_divergences_without_gradient_requested_report_the_same_value() -> None:
    s, t, y = _case()
    for name in ("reverse_kl", "jsd", "tvd"):
        d = Divergence(name=name)
        with torch.no_grad():
            a = kd_loss(s, y, t, alpha=1.0, temperature=1.0, divergence=d)
        b = kd_loss(s.clone().requires_grad_(True), y, t, alpha=1.0, temperature=1.0, divergence=d)
        assert a.kl == pytest.approx(b.kl, rel=1e-6)


def test_pure_functions_agree_with_their_ends_and_limits() -> None:
    lp = torch.log_softmax(torch.tensor([[1.0, 0.0, -1.0]], dtype=torch.float64), -1)
    lq = torch.log_softmax(torch.tensor([[0.0, 0.5, 0.0]], dtype=torch.float64), -1)
    assert torch.equal(jsd(lp, lq, 1.0)[0], reverse_kl(lp, lq)[0])
    near = skew_kl(lp, lq, 0.999)[0]
    assert float(near) < 1e-3  # the mixture is almost p itself
    assert float(jsd(lp, lq, 0.5)[0]) == pytest.approx(float(jsd(lq, lp, 0.5)[0]), rel=1e-12)


# --- the cache's logsumexp ---------------------------------------------------------------------


def test_a_top_k_cache_stores_the_full_logsumexp_per_token(tiny_run: TinyRun) -> None:
    opened = cache.open_cache(tiny_run.cache)
    assert opened.tails == ["zero", "bucket"]
    assert opened.manifest["tail_policies"] == ["zero", "bucket"]
    entries = {f["name"]: f for f in opened.manifest["files"]}
    lse = entries["lse-00000.bin"]
    tokens = entries["tokens-00000.bin"]
    assert lse["dtype"] == "float32"
    assert lse["bytes"] == 4 * lse["shape"][0] * lse["shape"][1]
    assert lse["shape"] == [tokens["shape"][0], tokens["shape"][1] - 1]
    got = opened.batch_lse(np.array([0, 2]))
    assert got is not None
    assert got.shape == (2, opened.seq_len)
    _, _, values = opened.batch(np.array([0, 2]))
    # the full logsumexp is above the top-k's own (the tail holds some mass)
    top = torch.logsumexp(torch.from_numpy(values.astype(np.float32)), dim=-1)
    assert torch.all(torch.from_numpy(got) >= top - 1e-3)
    assert torch.all(torch.from_numpy(got) > top)


def _without_lse(source: Path, target: Path) -> Path:
    shutil.copytree(source, target)
    path = target / "teacher_logits" / "manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    manifest["files"] = [f for f in manifest["files"] if not f["name"].startswith("lse-")]
    del manifest["tail_policies"]
    manifest[cache.SEAL] = cache._seal(manifest)  # as precompute sealed a cache without lse
    path.write_text(json.dumps(manifest), encoding="utf-8")
    return target


def test_a_cache_without_logsumexp_serves_tail_zero_and_refuses_bucket(
    tiny_run: TinyRun, tmp_path: Path
) -> None:
    old = cache.open_cache(_without_lse(tiny_run.cache, tmp_path / "old"))
    assert old.tails == ["zero"]
    assert old.lse is None
    assert old.batch_lse(np.array([0])) is None
    old.require_tail("zero")
    with pytest.raises(CacheMismatchError, match=r"no per-token logsumexp.*--tail bucket"):
        old.require_tail("bucket")
    with pytest.raises(CacheMismatchError, match="--tail bucket"):
        stages.distill(
            cache_path=tmp_path / "old",
            out_dir=tmp_path / "run",
            student_path=None,
            size=str(tiny_run.size_file),
            cfg=micro_train(tail="bucket"),
            device="cpu",
            resume=False,
            quiet=True,
        )
    assert not (tmp_path / "run").exists()


def test_a_full_cache_serves_both_tails_without_logsumexp() -> None:
    manifest = {"top_k": 0, "n_windows": 3, "precompute": {"shard_windows": 2}}
    assert cache.tail_policies(manifest) == ["zero", "bucket"]
    assert not any(n.startswith("lse-") for n in cache.expected_files(manifest))
    top = {**manifest, "top_k": 4, "tail_policies": ["zero", "bucket"]}
    assert "lse-00001.bin" in cache.expected_files(top)
    assert "lse-00000.bin" not in cache.expected_files({**top, "tail_policies": ["zero"]})


def test_metadata_records_the_divergence(tiny_run: TinyRun, tmp_path: Path) -> None:
    outcome = stages.distill(
        cache_path=tiny_run.cache,
        out_dir=tmp_path / "run",
        student_path=None,
        size=str(tiny_run.size_file),
        cfg=micro_train(divergence="skew_kl", skew=0.25, tail="bucket", epochs=1),
        device="cpu",
        resume=False,
        quiet=True,
    )
    record = {"name": "skew_kl", "params": {"skew": 0.25}, "tail": "bucket"}
    assert outcome.metadata["divergence"] == record
    on_disk = json.loads((tmp_path / "run" / "metadata.json").read_text(encoding="utf-8"))
    assert on_disk["divergence"] == record
    assert on_disk["config"]["train.divergence"] == "skew_kl"


def test_the_loss_comes_back_in_the_compute_dtype() -> None:
    s, t, y = _case()
    assert kd_loss(s, y, t, alpha=0.5, temperature=2.0).total.dtype == torch.float32
    assert kd_loss(s.half(), y, t, alpha=0.5, temperature=2.0).total.dtype == torch.float32
    wide = kd_loss(s.double(), y, t.double(), alpha=0.5, temperature=2.0)
    assert wide.total.dtype == torch.float64
    head = torch.eye(9)
    assert kd_loss(s, y, t, alpha=0.5, temperature=2.0, head=head).total.dtype == torch.float32


def test_a_teacher_whose_top_k_holds_all_its_mass_keeps_reverse_kl_finite() -> None:
    s, _, y = _case()
    t = torch.full((6, 9), -60.0)
    t[:, :3] = torch.tensor([30.0, 29.0, 28.0])  # the tail's mass rounds to 0 in fp32
    vals, ids = t.half().topk(3, dim=-1)
    top = TopK(ids=ids, values=vals, lse=torch.logsumexp(t, -1))
    reverse = Divergence(name="reverse_kl")
    out = kd_loss(s, y, top, alpha=1.0, temperature=1.0, tail="bucket", divergence=reverse)
    assert math.isfinite(out.kl)
    assert out.kl > 0
