"""The executable checks behind contracts/distill-divergences-v1.yaml: every divergence's value
against an independent float64 reference (plain Python `math`, no torch), its gradient against
torch.autograd.gradcheck, its invariants, the top-k tail policies and the CLI record. Each
names the mutants it must kill (falsify/mutants.py; `pv falsify --mutants`)."""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from click.testing import CliRunner

from distill import kernel
from distill.cli import main
from distill.config import DIVERGENCE_NAMES as NAMES
from distill.divergence import Divergence
from distill.errors import ConfigError
from distill.loss import TopK, kd_loss
from falsify.conftest import QUIET_CPU, EngineRun, options, succeeded

# every divergence with a parameter off its defaults, so a swapped beta or skew shows
CASES = (
    Divergence(name="forward_kl"),
    Divergence(name="reverse_kl"),
    Divergence(name="jsd", beta=0.3),
    Divergence(name="jsd", beta=0.5),
    Divergence(name="skew_kl", skew=0.2),
    Divergence(name="tvd"),
)
Probs = list[float]
# One check per id, looping over every case: pv judges each collected check against each
# mutant it names, and a mutant of one divergence leaves the others' cases untouched.
PATHS = (False, True)  # chunked, fused


# --- the independent reference: probabilities as Python floats --------------------------------


def ref_softmax(row: list[float], t: float = 1.0) -> Probs:
    top = max(row)
    e = [math.exp((x - top) / t) for x in row]
    return [x / sum(e) for x in e]


def _kl(p: Probs, q: Probs) -> float:
    if any(pi > 0 and qi == 0 for pi, qi in zip(p, q, strict=True)):
        return math.inf
    return sum(pi * math.log(pi / qi) for pi, qi in zip(p, q, strict=True) if pi > 0)


def _mix(w: float, p: Probs, q: Probs) -> Probs:
    return [w * pi + (1 - w) * qi for pi, qi in zip(p, q, strict=True)]


def ref_divergence(d: Divergence, p: Probs, q: Probs) -> float:
    """The definitions of the contract's equations, term by term."""
    if d.name == "forward_kl" or (d.name == "jsd" and d.beta == 0.0):
        return _kl(p, q)
    if d.name == "reverse_kl" or (d.name == "jsd" and d.beta == 1.0):
        return _kl(q, p)
    if d.name == "jsd":
        m = _mix(d.beta, p, q)
        return d.beta * _kl(p, m) + (1 - d.beta) * _kl(q, m)
    if d.name == "skew_kl":
        return _kl(p, _mix(d.skew, p, q))
    return 0.5 * sum(abs(pi - qi) for pi, qi in zip(p, q, strict=True))


def _case(n: int = 5, v: int = 7, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    s = torch.randn(n, v, generator=gen, dtype=torch.float64) * 1.5
    t = torch.randn(n, v, generator=gen, dtype=torch.float64) * 1.5
    return s, t, torch.randint(0, v, (n,), generator=gen)


def _loss(
    s: torch.Tensor, y: torch.Tensor, teacher: kernel.Teacher, d: Divergence, **kw: Any
) -> Any:
    """kd_loss at alpha = 1 through the chunked path, or the fused one when `fused`."""
    fused = kw.pop("fused", False)
    if not fused:
        return kd_loss(s, y, teacher, alpha=1.0, divergence=d, chunk_size=2, **kw)
    head = torch.eye(s.shape[1], dtype=s.dtype)  # hidden @ I.T = the logits themselves
    return kd_loss(s, y, teacher, alpha=1.0, divergence=d, chunk_size=2, head=head, **kw)


def _top_k(t: torch.Tensor, k: int) -> TopK:
    vals, ids = t.topk(k, dim=-1)
    return TopK(ids=ids, values=vals, lse=torch.logsumexp(t, dim=-1))


def _bucket_probs(ids: list[int], row: Probs) -> Probs:
    """A distribution over the top-k ids of the teacher, and one category for the rest."""
    kept = [row[i] for i in ids]
    return [*kept, max(0.0, 1.0 - sum(kept))]


# --- FALSIFY-DISTILL-DIV-001: values ------------------------------------------------------------


@pytest.mark.falsifies("FALSIFY-DISTILL-DIV-001")
@pytest.mark.mutants(
    "forward-reverse-swapped",
    "jsd-beta-inverted",
    "tvd-missing-half",
    "skew-mixture-on-wrong-side",
)
def test_001_values_match_an_independent_float64_reference() -> None:
    for d, fused in itertools.product(CASES, PATHS):
        _check_001(d, fused)


def _check_001(d: Divergence, fused: bool) -> None:
    s, t, y = _case()
    for temperature in (1.0, 2.0):
        out = _loss(s, y, t, d, temperature=temperature, fused=fused)
        p_rows = [ref_softmax(r, temperature) for r in t.tolist()]
        q_rows = [ref_softmax(r, temperature) for r in s.tolist()]
        ref = [ref_divergence(d, p, q) for p, q in zip(p_rows, q_rows, strict=True)]
        mean = sum(ref) / len(ref)
        assert out.kl == pytest.approx(mean, rel=1e-10, abs=1e-12)
        weight = temperature**2 if d.name != "tvd" else 1.0
        assert float(out.total) == pytest.approx(weight * mean, rel=1e-10, abs=1e-12)


# --- FALSIFY-DISTILL-DIV-002: gradients ---------------------------------------------------------


def _teachers(t: torch.Tensor, d: Divergence) -> dict[str, tuple[kernel.Teacher, str]]:
    forms: dict[str, tuple[kernel.Teacher, str]] = {
        "full": (t, "zero"),
        "bucket": (_top_k(t, 3), "bucket"),
    }
    if not d.needs_support:  # reverse KL against a tail of probability 0 is infinite
        forms["top-k-zero"] = (_top_k(t, 3), "zero")
    return forms


@pytest.mark.falsifies("FALSIFY-DISTILL-DIV-002")
@pytest.mark.mutants("tvd-missing-half")
def test_002_gradients_pass_gradcheck_in_float64() -> None:
    for d, fused in itertools.product(CASES, PATHS):
        _check_002(d, fused)


def _check_002(d: Divergence, fused: bool) -> None:
    s, t, y = _case(n=4, v=6, seed=1)
    for form, (teacher, tail) in _teachers(t, d).items():
        temperature = 1.0 if tail == "bucket" else 1.7
        x = s.clone().requires_grad_(True)

        def total(
            z: torch.Tensor,
            teacher: kernel.Teacher = teacher,
            tail: str = tail,
            t: float = temperature,
        ) -> Any:
            return _loss(z, y, teacher, d, temperature=t, tail=tail, fused=fused).total

        assert torch.autograd.gradcheck(
            total, (x,), eps=1e-6, atol=1e-7, rtol=1e-5, fast_mode=True
        ), form


# --- FALSIFY-DISTILL-DIV-003: invariants -------------------------------------------------------


def _value(d: Divergence, t: torch.Tensor, s: torch.Tensor) -> float:
    y = torch.zeros(t.shape[0], dtype=torch.long)
    return float(_loss(s, y, t, d, temperature=1.0).kl)


@pytest.mark.falsifies("FALSIFY-DISTILL-DIV-003")
@pytest.mark.mutants(
    "forward-reverse-swapped",
    "jsd-beta-inverted",
    "tvd-missing-half",
    "skew-mixture-on-wrong-side",
)
def test_003_invariants_hold() -> None:
    s, t, _ = _case(n=16, v=9, seed=2)
    for d in CASES:
        assert _value(d, t, s) > 0.0, d  # non-negative, and > 0 when p != q
        assert abs(_value(d, t, t)) < 1e-12, d  # zero when p == q
    half = Divergence(name="jsd", beta=0.5)
    assert _value(half, t, s) == pytest.approx(_value(half, s, t), rel=1e-12)
    far = torch.tensor([[40.0, 0.0, 0.0], [0.0, 40.0, 0.0]], dtype=torch.float64)
    near = torch.tensor([[0.0, 0.0, 40.0], [0.0, 0.0, 40.0]], dtype=torch.float64)
    assert _value(half, far, near) <= math.log(2) + 1e-12  # bounded by ln 2 ...
    assert _value(half, far, near) == pytest.approx(math.log(2), rel=1e-9)  # ... and reached
    assert _value(Divergence(name="tvd"), far, near) == pytest.approx(1.0, rel=1e-9)
    # an asymmetric pair with hand-computed values: p = (3/4, 1/4), q = (1/2, 1/2)
    p, q = [[math.log(3.0), 0.0]], [[0.0, 0.0]]
    tp, tq = torch.tensor(p, dtype=torch.float64), torch.tensor(q, dtype=torch.float64)
    forward = 0.75 * math.log(1.5) + 0.25 * math.log(0.5)
    reverse = 0.5 * math.log(0.5 / 0.75) + 0.5 * math.log(2.0)
    assert _value(Divergence(name="forward_kl"), tp, tq) == pytest.approx(forward, rel=1e-12)
    assert _value(Divergence(name="reverse_kl"), tp, tq) == pytest.approx(reverse, rel=1e-12)
    assert forward != pytest.approx(reverse, rel=1e-3)
    # the ends of beta: exactly forward and reverse KL, and the interior tends to beta * KL(p||q)
    assert _value(Divergence(name="jsd", beta=0.0), t, s) == pytest.approx(
        _value(CASES[0], t, s), rel=1e-12
    )
    assert _value(Divergence(name="jsd", beta=1.0), t, s) == pytest.approx(
        _value(CASES[1], t, s), rel=1e-12
    )
    small = 1e-5
    limit = _value(Divergence(name="jsd", beta=small), t, s) / small
    assert limit == pytest.approx(_value(CASES[0], t, s), rel=1e-3)
    skew0 = _value(Divergence(name="skew_kl", skew=0.0), t, s)
    assert skew0 == pytest.approx(_value(CASES[0], t, s), rel=1e-12)


# --- FALSIFY-DISTILL-DIV-004: the top-k tail ---------------------------------------------------


@pytest.mark.falsifies("FALSIFY-DISTILL-DIV-004")
@pytest.mark.mutants("tail-mass-dropped")
def test_004_bucket_tail_matches_the_reference_and_every_teacher_sums_to_one() -> None:
    for d in CASES:
        _check_004(d)


def _check_004(d: Divergence) -> None:
    s, t, y = _case(n=6, v=11, seed=3)
    k = 4
    top = _top_k(t, k)
    out = _loss(s, y, top, d, temperature=1.0, tail="bucket")
    ref = []
    for t_row, s_row, ids in zip(t.tolist(), s.tolist(), top.ids.tolist(), strict=True):
        p = _bucket_probs(ids, ref_softmax(t_row))
        q = _bucket_probs(ids, ref_softmax(s_row))
        ref.append(ref_divergence(d, p, q))
    assert out.kl == pytest.approx(sum(ref) / len(ref), rel=1e-10, abs=1e-12)
    # every teacher distribution the loss uses: full, top-k tail zero, top-k bucket, in fp32
    # from fp16 values as the cache stores them
    half = t.float().half()
    lse = torch.logsumexp(t.float(), dim=-1)
    vals, ids = half.topk(k, dim=-1)
    forms = {
        "full": (half, "zero", 2.0),
        "zero": ((ids, vals, None), "zero", 2.0),
        "bucket": ((ids, vals, lse), "bucket", 1.0),
    }
    for form, (teacher, tail, temperature) in forms.items():
        spec = kernel.ChunkSpec(w_kl=1.0, w_ce=0.0, temperature=temperature, rows=8, tail=tail)
        dist = kernel.teacher_dist(teacher, spec, torch.float32)
        assert dist is not None
        sums = dist.log_p.exp().double().sum(-1)
        assert torch.all((sums - 1.0).abs() <= 1e-6), (form, sums)
    # the bucket holds the teacher's real tail mass, not a renormalised top k
    spec = kernel.ChunkSpec(w_kl=1.0, w_ce=0.0, temperature=1.0, rows=8, tail="bucket")
    bucket = kernel.teacher_dist((top.ids, top.values, top.lse), spec, torch.float64)
    assert bucket is not None
    tail_mass = 1.0 - torch.softmax(t, -1).gather(1, top.ids).sum(-1)
    assert torch.allclose(bucket.log_p[:, -1].exp(), tail_mass, rtol=1e-10, atol=0.0)


# --- FALSIFY-DISTILL-DIV-005: accumulation and the two paths ---------------------------------


@pytest.mark.falsifies("FALSIFY-DISTILL-DIV-005")
@pytest.mark.mutants("fused-divergence-ignored")
def test_005_accumulation_is_exact_and_both_paths_agree() -> None:
    for d in CASES:
        _check_005(d)


def _check_005(d: Divergence) -> None:
    s, t, y = _case(n=8, v=10, seed=4)
    y[::3] = kernel.IGNORE_INDEX
    top = _top_k(t, 4)
    for teacher, tail in ((t, "zero"), (top, "bucket")):
        whole = s.clone().requires_grad_(True)
        _loss(whole, y, teacher, d, temperature=1.0, tail=tail).total.backward()
        count = int((y != kernel.IGNORE_INDEX).sum())
        split = s.clone().requires_grad_(True)
        for part in (slice(0, 3), slice(3, 8)):
            sub = _rows(teacher, part)
            out = _loss(split[part], y[part], sub, d, temperature=1.0, tail=tail, normalizer=count)
            out.total.backward()
        assert whole.grad is not None
        assert split.grad is not None
        assert torch.allclose(whole.grad, split.grad, rtol=1e-12, atol=1e-15)
        fused = s.clone().requires_grad_(True)
        _loss(fused, y, teacher, d, temperature=1.0, tail=tail, fused=True).total.backward()
        assert fused.grad is not None
        assert torch.allclose(whole.grad, fused.grad, rtol=1e-10, atol=1e-14)


def _rows(teacher: kernel.Teacher, part: slice) -> kernel.Teacher:
    if isinstance(teacher, TopK):
        assert teacher.lse is not None
        return TopK(ids=teacher.ids[part], values=teacher.values[part], lse=teacher.lse[part])
    assert teacher is not None
    return teacher[part]


# --- FALSIFY-DISTILL-DIV-006: the CLI and metadata.json ----------------------------------------


def _train(run: EngineRun, out: Path, *extra: str) -> Any:
    train = options(cache=run.cache, out=out, student_size=run.size_file)
    micro = options(batch_size=4, warmup_steps=1, epochs=1, steps_per_epoch=3)
    return CliRunner().invoke(main, ["train", *train, *micro, *QUIET_CPU, *extra])


def _metadata(out: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((out / "metadata.json").read_text(encoding="utf-8"))
    return data


@pytest.mark.falsifies("FALSIFY-DISTILL-DIV-006")
@pytest.mark.mutants("divergence-option-ignored")
def test_006_train_records_the_divergence_and_refuses_bucket_without_lse(
    micro_run: EngineRun, tmp_path: Path
) -> None:
    succeeded(_train(micro_run, tmp_path / "fkl"))
    succeeded(_train(micro_run, tmp_path / "tvd", "--divergence", "tvd", "--tail", "bucket"))
    succeeded(_train(micro_run, tmp_path / "jsd", "--divergence", "jsd", "--beta", "0.25"))
    fkl, tvd, jsd = (_metadata(tmp_path / n) for n in ("fkl", "tvd", "jsd"))
    assert fkl["divergence"] == {"name": "forward_kl", "params": {}, "tail": "zero"}
    assert tvd["divergence"] == {"name": "tvd", "params": {}, "tail": "bucket"}
    assert jsd["divergence"] == {"name": "jsd", "params": {"beta": 0.25}, "tail": "zero"}
    # the same student and data: TVD is in [0, 1] and differs from forward KL's value
    assert 0.0 <= tvd["epochs"][0]["kl_loss"] <= 1.0
    assert tvd["epochs"][0]["kl_loss"] != pytest.approx(fkl["epochs"][0]["kl_loss"], rel=1e-3)
    # a cache written without the logsumexp cannot serve the bucket tail: one clear error
    old = tmp_path / "old-cache"
    _strip_lse(micro_run.cache, old)
    result = _train_on(micro_run, old, tmp_path / "refused", "--tail", "bucket")
    assert result.exit_code == 1
    assert result.output.startswith("error: ")
    assert "logsumexp" in result.output
    assert result.output.count("\n") == 1
    assert not (tmp_path / "refused" / "metadata.json").exists()


def _train_on(run: EngineRun, cache_dir: Path, out: Path, *extra: str) -> Any:
    moved = EngineRun(
        root=run.root,
        data_args=run.data_args,
        seq_len=run.seq_len,
        size_file=run.size_file,
        teacher=run.teacher,
        cache=cache_dir,
    )
    return _train(moved, out, *extra)


def _strip_lse(source: Path, target: Path) -> None:
    """A copy of the cache as precompute wrote it before it stored the logsumexp."""
    import shutil

    shutil.copytree(source, target)
    manifest_path = target / "teacher_logits" / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    manifest["files"] = [f for f in manifest["files"] if not f["name"].startswith("lse-")]
    manifest["tail_policies"] = ["zero"]
    from distill import cache

    manifest[cache.SEAL] = cache._seal(manifest)  # sealed, as precompute wrote it then
    manifest_path.write_text(json.dumps(manifest), encoding="utf-8")


def test_unknown_divergence_or_parameter_is_a_config_error() -> None:
    bad: list[tuple[Callable[[], Any], str]] = [
        (lambda: Divergence(name="kl"), "unknown divergence 'kl': choose one of forward_kl, "),
        (lambda: Divergence(name="jsd", beta=1.5), r"beta must be in \[0, 1\], got 1.5"),
        (lambda: Divergence(name="skew_kl", skew=1.0), r"skew must be in \[0, 1\), got 1$"),
    ]
    for make, message in bad:
        with pytest.raises(ConfigError, match=message):
            make()
    assert set(NAMES) == {d.name for d in CASES}
