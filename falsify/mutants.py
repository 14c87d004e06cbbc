"""The project's named mutants: deliberate, minimal breaks that the checks in falsify/ must
kill. A check names them with `@pytest.mark.mutants(...)`; `pv falsify --mutants` runs it once
per name with `PV_MUTANT` set, and falsify/conftest.py applies the break for that check only."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

from pv.binding.mutants import Registry

REGISTRY = Registry()
REPO_ROOT = Path(__file__).resolve().parents[1]
CONTRACTS_DIR = REPO_ROOT / "contracts"

_FALSIFY_ID = re.compile(r"^(\s*-?\s*id:\s*)([\"']?)(FALSIFY-[A-Za-z0-9_-]+)\2\s*$", re.MULTILINE)


def contract_path(name: str) -> Path:
    """Checks read contracts through here (never a hard-coded path), so a mutant can put a
    broken copy in their place for the duration of one check."""
    return CONTRACTS_DIR / name


def duplicate_falsification_id(text: str) -> str:
    """The minimal contract break: the second falsification id becomes a copy of the first.
    A text edit, not a YAML round trip, so nothing else in the file changes."""
    found = list(_FALSIFY_ID.finditer(text))
    if len(found) < 2:
        raise ValueError("a duplicated id needs at least two falsification ids")
    first, second = found[0], found[1]
    start, end = second.span(3)
    return text[:start] + first.group(3) + text[end:]


@REGISTRY.register(
    "contract-duplicate-falsification-id",
    "every contract the check reads has its second FALSIFY id replaced by its first "
    "(SCHEMA-007: `pv validate` must fail)",
)
def _contract_duplicate_falsification_id(monkeypatch: Any, tmp_path: Path) -> None:
    broken = tmp_path / "mutant-contracts"
    broken.mkdir()
    for source in sorted(CONTRACTS_DIR.glob("*.y*ml")):
        text = source.read_text(encoding="utf-8")
        if len(_FALSIFY_ID.findall(text)) >= 2:
            text = duplicate_falsification_id(text)
        (broken / source.name).write_text(text, encoding="utf-8")
    monkeypatch.setattr(sys.modules[__name__], "CONTRACTS_DIR", broken)


# --- engine mutants -----------------------------------------------------------------------
# Each patches one seam named in distill/__init__.py; the engine looks every seam up through
# its module at call time, so the patch reaches the CLI run in the same process (CliRunner).


@REGISTRY.register(
    "train-tensor-clone-stub",
    "the tensor-clone stub: `distill train` copies the input student to OUT/student, records the "
    "copy's own losses for every epoch, claims the drift gate passed, and never steps",
)
def _train_tensor_clone_stub(monkeypatch: Any, tmp_path: Path) -> None:
    from distill import stages

    monkeypatch.setattr(stages, "distill", _clone_stub)


def _clone_stub(**kw: Any) -> Any:
    """`stages.distill` as a stub: the same inputs and outputs, no training at all."""
    import torch

    from distill import batches, cache, loss, model, stages
    from distill.checkpoint import atomic_write_json
    from distill.train import METADATA, Outcome, evaluate

    cfg, out_dir = kw["cfg"], kw["out_dir"]
    teacher_cache = cache.open_cache(kw["cache_path"])
    if kw["student_path"] is not None:
        student = model.load_model(kw["student_path"])
    else:
        torch.manual_seed(cfg.seed)
        student = model.GPT(model.resolve_size(kw["size"]))
    stages.prepare_out(out_dir, resume=kw["resume"])
    model.save_model(student, out_dir / "student")  # the tensor_clone()
    data = batches.from_cache(teacher_cache)
    x, y, teacher = batches.to_device(
        data.fetch(batches.epoch_order(data.n_windows, 0, 0)[:4]), torch.device("cpu")
    )
    with torch.no_grad():
        out = loss.kd_loss(student(x), y, teacher, alpha=cfg.alpha, temperature=cfg.temperature)
    record = {
        "train_loss": float(out.total),
        "total_loss": float(out.total),
        "kl_loss": out.kl,
        "ce_loss": out.ce,
        "val_loss": evaluate(student, data, cfg, torch.device("cpu")),
        "tokens_per_second": 0.0,
    }
    metadata = {
        "config": {"kind": "train"},
        "epochs": [{"epoch": e + 1, **record} for e in range(cfg.epochs)],
        "drift_gate": {"relative_change": 1.0, "tolerance": cfg.drift_tolerance, "passed": True},
    }
    atomic_write_json(out_dir / METADATA, metadata)
    return Outcome(model_dir=out_dir / "student", metadata=metadata)


@REGISTRY.register(
    "optimizer-step-skipped",
    "`distill.train.optimizer_step` does nothing: gradients are computed, weights never move",
)
def _optimizer_step_skipped(monkeypatch: Any, tmp_path: Path) -> None:
    from distill import train

    monkeypatch.setattr(train, "optimizer_step", lambda optimizer: None)


@REGISTRY.register(
    "kd-loss-no-t-squared",
    "`distill.loss.term_weights` drops the T^2 factor of the KL term",
)
def _no_t_squared(monkeypatch: Any, tmp_path: Path) -> None:
    from distill import loss

    monkeypatch.setattr(loss, "term_weights", lambda alpha, temperature: (alpha, 1.0 - alpha))


@REGISTRY.register(
    "alpha-swapped",
    "`distill.loss.term_weights` applies alpha to the CE term and 1 - alpha to the KL term",
)
def _alpha_swapped(monkeypatch: Any, tmp_path: Path) -> None:
    from distill import loss

    monkeypatch.setattr(
        loss, "term_weights", lambda alpha, temperature: ((1.0 - alpha) * temperature**2, alpha)
    )


@REGISTRY.register(
    "ce-term-unweighted",
    "`distill.loss.term_weights` adds the CE term unweighted (1 instead of 1 - alpha)",
)
def _ce_unweighted(monkeypatch: Any, tmp_path: Path) -> None:
    from distill import loss

    monkeypatch.setattr(
        loss, "term_weights", lambda alpha, temperature: (alpha * temperature**2, 1.0)
    )


@REGISTRY.register(
    "top-k-ties-highest-id-first",
    "`distill.cache.top_k` breaks ties between equal logits by the highest id, not the lowest",
)
def _top_k_ties_reversed(monkeypatch: Any, tmp_path: Path) -> None:
    import torch

    from distill import cache

    def top_k(logits: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        flipped = logits.flip(-1)
        values, ids = torch.sort(flipped, dim=-1, descending=True, stable=True)
        return (logits.shape[-1] - 1 - ids)[..., :k], values[..., :k]

    monkeypatch.setattr(cache, "top_k", top_k)


@REGISTRY.register(
    "manifest-timestamp",
    "`distill.cache.manifest_dict` records when and by which run the cache was written",
)
def _manifest_timestamp(monkeypatch: Any, tmp_path: Path) -> None:
    import datetime
    import uuid

    from distill import cache

    real = cache.manifest_dict

    def manifest_dict(**kw: Any) -> dict[str, Any]:
        stamp = datetime.datetime.now(datetime.timezone.utc).isoformat()
        return {**real(**kw), "created": stamp, "run_id": uuid.uuid4().hex}

    monkeypatch.setattr(cache, "manifest_dict", manifest_dict)


@REGISTRY.register(
    "train-reruns-teacher",
    "`distill train` finds the teacher the cache was made from (by fingerprint, next to the "
    "cache) and recomputes its logits instead of reading OUT/teacher_logits/",
)
def _train_reruns_teacher(monkeypatch: Any, tmp_path: Path) -> None:
    from distill import cache

    real_open = cache.open_cache

    def open_cache(path: Path, *, verify: bool = True) -> Any:
        return _recompute_cache(real_open(path, verify=verify), path, tmp_path, real_open)

    monkeypatch.setattr(cache, "open_cache", open_cache)


def _recompute_cache(stale: Any, path: Path, tmp_path: Path, real_open: Any) -> Any:
    """Rebuild the cache from the teacher; the rebuilt one is what training then reads."""
    import numpy as np

    from distill import cache, data, model
    from distill.config import DataConfig, PrecomputeConfig
    from distill.errors import ModelError

    manifest = stale.manifest
    teacher_dir = next(
        (
            config.parent
            for config in sorted(Path(path).resolve().parent.rglob("config.json"))
            if model.fingerprint(config.parent) == manifest["teacher_fingerprint"]
        ),
        None,
    )
    if teacher_dir is None:
        raise ModelError(f"teacher {manifest['teacher_fingerprint'][:12]} not found to re-run")
    teacher = model.load_model(teacher_dir)
    data_cfg, pre_cfg = DataConfig(**manifest["data"]), PrecomputeConfig(**manifest["precompute"])
    tokens = np.concatenate([np.asarray(t).reshape(-1, data_cfg.seq_len + 1) for t in stale.tokens])
    corpus = data.Corpus(train=_unwindow(tokens), val=stale.val, vocab_size=stale.vocab_size)
    out = tmp_path / f"rerun-{len(list(tmp_path.iterdir()))}"
    cache.write_cache(
        out,
        teacher=teacher,
        corpus=corpus,
        data=data_cfg,
        precompute=pre_cfg,
        teacher_fingerprint=manifest["teacher_fingerprint"],
        data_fingerprint=manifest["data_fingerprint"],
        device=_cpu(),
    )
    return real_open(out)


def _unwindow(windows: Any) -> Any:
    """Non-overlapping (N, L+1) windows back to the token stream they were cut from."""
    import numpy as np

    return np.concatenate([windows[:, :-1].reshape(-1), windows[-1:, -1]])


def _cpu() -> Any:
    import torch

    return torch.device("cpu")


@REGISTRY.register(
    "distill-cli-unregistered-option",
    "`distill train` grows a --mystery option that the registry and the tests do not know",
)
def _unregistered_option(monkeypatch: Any, tmp_path: Path) -> None:
    import click

    from distill import cli

    extra = click.Option(["--mystery"], type=int, default=0, help="Not in the registry.")
    monkeypatch.setattr(cli.train_cmd, "params", [*cli.train_cmd.params, extra])


# --- divergence mutants (contracts/distill-divergences-v1.yaml) ------------------------------
# Each replaces one entry of `distill.divergence.DIVERGENCES` (looked up at call time by both
# loss paths) or one seam of the kernel, with the break its name says.


@REGISTRY.register(
    "forward-reverse-swapped",
    "`forward_kl` computes KL(q || p) and `reverse_kl` computes KL(p || q)",
)
def _forward_reverse_swapped(monkeypatch: Any, tmp_path: Path) -> None:
    from distill import divergence

    table = divergence.DIVERGENCES
    forward, reverse = table["forward_kl"], table["reverse_kl"]
    monkeypatch.setitem(table, "forward_kl", reverse)
    monkeypatch.setitem(table, "reverse_kl", forward)


@REGISTRY.register(
    "jsd-beta-inverted",
    "`jsd` weighs the mixture with 1 - beta where beta belongs (beta 0 becomes reverse KL)",
)
def _jsd_beta_inverted(monkeypatch: Any, tmp_path: Path) -> None:
    from distill import divergence

    monkeypatch.setitem(
        divergence.DIVERGENCES, "jsd", lambda lp, lq, d: divergence.jsd(lp, lq, 1.0 - d.beta)
    )


@REGISTRY.register(
    "tvd-missing-half",
    "`tvd` returns sum |p - q| without the 1/2 (its gradient keeps the 1/2)",
)
def _tvd_missing_half(monkeypatch: Any, tmp_path: Path) -> None:
    from distill import divergence

    def tvd(lp: Any, lq: Any, d: Any) -> Any:
        value, h = divergence.tvd(lp, lq)
        return 2.0 * value, h

    monkeypatch.setitem(divergence.DIVERGENCES, "tvd", tvd)


@REGISTRY.register(
    "skew-mixture-on-wrong-side",
    "`skew_kl` mixes the skew into the wrong distribution: KL(p || a q + (1 - a) p)",
)
def _skew_wrong_side(monkeypatch: Any, tmp_path: Path) -> None:
    import math

    import torch

    from distill import divergence

    def skew(lp: Any, lq: Any, d: Any) -> Any:
        a = d.skew
        log_m = torch.logaddexp(lq + (math.log(a) if a > 0 else -math.inf), lp + math.log1p(-a))
        p = lp.exp()
        h = -a * p * (lq - log_m).exp()
        return torch.where(p > 0, p * (lp - log_m), 0.0).sum(-1), h

    monkeypatch.setitem(divergence.DIVERGENCES, "skew_kl", skew)


@REGISTRY.register(
    "tail-mass-dropped",
    "the bucket tail's teacher category gets probability 0: the top k is not renormalised and "
    "the mass outside it is lost",
)
def _tail_mass_dropped(monkeypatch: Any, tmp_path: Path) -> None:
    import torch

    from distill import kernel

    real = kernel.teacher_dist

    def teacher_dist(teacher: Any, spec: Any, dtype: Any) -> Any:
        dist = real(teacher, spec, dtype)
        if dist is None or not dist.bucket:
            return dist
        log_p = dist.log_p.clone()
        log_p[:, -1] = -torch.inf
        return kernel.TeacherDist(log_p=log_p, ids=dist.ids, bucket=True)

    monkeypatch.setattr(kernel, "teacher_dist", teacher_dist)


@REGISTRY.register(
    "fused-divergence-ignored",
    "the fused path (loss fused with the head) computes forward KL whatever divergence is asked",
)
def _fused_divergence_ignored(monkeypatch: Any, tmp_path: Path) -> None:
    import dataclasses

    from distill import divergence, fused

    real = fused.chunk

    def chunk(logits: Any, y: Any, teacher: Any, spec: Any, want_grad: bool) -> Any:
        spec = dataclasses.replace(spec, divergence=divergence.Divergence())
        return real(logits, y, teacher, spec, want_grad)

    monkeypatch.setattr(fused, "chunk", chunk)


@REGISTRY.register(
    "divergence-option-ignored",
    "`distill train` records --divergence and --tail in metadata.json but trains with the "
    "defaults (forward KL, tail zero)",
)
def _divergence_option_ignored(monkeypatch: Any, tmp_path: Path) -> None:
    import dataclasses

    from distill import train

    real = train.student_loss

    def student_loss(model: Any, x: Any, y: Any, teacher: Any, config: Any, **kw: Any) -> Any:
        config = dataclasses.replace(config, divergence="forward_kl", tail="zero")
        return real(model, x, y, teacher, config, **kw)

    monkeypatch.setattr(train, "student_loss", student_loss)


# --- on-policy mutants (contracts/distill-on-policy-v1.yaml) ---------------------------------
# Each patches one seam of distill.onpolicy (looked up at call time by the objective, the
# stage and `distill eval`), or the sampler in distill.rollout, with the break its name says.


@REGISTRY.register(
    "rollout-from-corpus",
    "the on-policy batches train on the corpus continuation, not the student's own samples",
)
def _rollout_from_corpus(monkeypatch: Any, tmp_path: Path) -> None:
    from distill import onpolicy

    def continuation(self: Any, net: Any, x: Any, *, step: int, micro: int) -> Any:
        p, g = self.policy.prompt_len, self.policy.gen_len
        return x[:, p : p + g], True

    monkeypatch.setattr(onpolicy.OnPolicy, "continuation", continuation)


@REGISTRY.register(
    "rollout-from-teacher",
    "the on-policy continuations are sampled from the teacher instead of the student",
)
def _rollout_from_teacher(monkeypatch: Any, tmp_path: Path) -> None:
    from distill import onpolicy

    real = onpolicy.OnPolicy.continuation

    def continuation(self: Any, net: Any, x: Any, *, step: int, micro: int) -> Any:
        return real(self, self.teacher, x, step=step, micro=micro)

    monkeypatch.setattr(onpolicy.OnPolicy, "continuation", continuation)


@REGISTRY.register(
    "loss-includes-prompt",
    "`distill.onpolicy.loss_targets` keeps the prompt's tokens as targets: the loss covers them",
)
def _loss_includes_prompt(monkeypatch: Any, tmp_path: Path) -> None:
    from distill import onpolicy

    monkeypatch.setattr(onpolicy, "loss_targets", lambda seq, p: (seq[:, :-1], seq[:, 1:].clone()))


@REGISTRY.register(
    "teacher-not-frozen",
    "`distill.onpolicy.freeze` leaves the teacher's parameters wanting gradients and the "
    "teacher is scored inside the graph, so the loss's backward reaches it",
)
def _teacher_not_frozen(monkeypatch: Any, tmp_path: Path) -> None:
    from distill import onpolicy

    monkeypatch.setattr(onpolicy, "freeze", lambda teacher: teacher)
    monkeypatch.setattr(onpolicy, "teacher_logits", lambda teacher, inputs: teacher(inputs).float())


def _sampled_variant(weights: Any, *, detach: bool = True) -> Any:
    """`distill.onpolicy.sampled_loss` with `weights(cost)` in place of its costs-to-go less
    the leave-one-out baseline; without `detach`, the costs keep their graph."""
    import torch
    from torch.nn import functional as F

    from distill import loss
    from distill.kernel import IGNORE_INDEX

    def sampled_loss(student: Any, targets: Any, teacher: Any, *, normalizer: int) -> Any:
        keep = targets != IGNORE_INDEX
        ids = targets.clamp(min=0).unsqueeze(-1)
        log_q = F.log_softmax(student.double(), dim=-1).gather(-1, ids).squeeze(-1)
        log_p = F.log_softmax(teacher.double(), dim=-1).gather(-1, ids).squeeze(-1)
        cost = torch.where(keep, log_q - log_p, 0.0)
        cost = cost.detach() if detach else cost
        surrogate = torch.where(keep, log_q * weights(cost), 0.0).sum()
        total = (cost.sum().detach() + surrogate - surrogate.detach()) / max(normalizer, 1)
        n = int(keep.sum())
        kl = float(cost.sum().detach()) / max(n, 1)
        return loss.KDLoss(total=total, kl=kl, ce=0.0, tokens=n)

    return sampled_loss


def _to_go(cost: Any) -> Any:
    return cost.flip(-1).cumsum(-1).flip(-1)


@REGISTRY.register(
    "estimator-cost-not-detached",
    "the sampled estimator's costs log q - log p keep their graph: gradient leaks through them",
)
def _estimator_cost_not_detached(monkeypatch: Any, tmp_path: Path) -> None:
    from distill import onpolicy

    monkeypatch.setattr(onpolicy, "sampled_loss", _sampled_variant(_to_go, detach=False))


@REGISTRY.register(
    "estimator-immediate-cost",
    "the sampled estimator weighs grad log q(x_s) by the cost of token s alone, not by the "
    "costs from s to the end (what later tokens owe to earlier ones is dropped)",
)
def _estimator_immediate_cost(monkeypatch: Any, tmp_path: Path) -> None:
    from distill import onpolicy

    monkeypatch.setattr(onpolicy, "sampled_loss", _sampled_variant(lambda cost: cost))


@REGISTRY.register(
    "estimator-baseline-includes-own",
    "the sampled estimator's baseline is the batch mean including the sample's own cost-to-go: "
    "not independent of it, so the gradient is shrunk by (B - 1) / B",
)
def _estimator_baseline_includes_own(monkeypatch: Any, tmp_path: Path) -> None:
    from distill import onpolicy

    def centred(cost: Any) -> Any:
        to_go = _to_go(cost)
        return to_go - to_go.mean(0, keepdim=True)

    monkeypatch.setattr(onpolicy, "sampled_loss", _sampled_variant(centred))


@REGISTRY.register(
    "lambda-ignored",
    "`distill.onpolicy.samples_this_micro` ignores --lambda: every micro-batch is sampled",
)
def _lambda_ignored(monkeypatch: Any, tmp_path: Path) -> None:
    from distill import onpolicy

    monkeypatch.setattr(onpolicy, "samples_this_micro", lambda lmbda, seed, step, micro: True)


@REGISTRY.register(
    "rollout-unseeded",
    "the rollouts draw from a generator seeded by the clock, not from (seed, step, rank)",
)
def _rollout_unseeded(monkeypatch: Any, tmp_path: Path) -> None:
    import time

    from distill import onpolicy

    real = onpolicy.draw_seed
    monkeypatch.setattr(onpolicy, "draw_seed", lambda *parts: real(*parts, time.perf_counter_ns()))


@REGISTRY.register(
    "gen-temperature-ignored",
    "the rollouts sample at temperature 1 whatever --gen-temperature says",
)
def _gen_temperature_ignored(monkeypatch: Any, tmp_path: Path) -> None:
    from distill import rollout

    real = rollout.pick
    monkeypatch.setattr(rollout, "pick", lambda logits, temperature, gen: real(logits, 1.0, gen))


@REGISTRY.register(
    "onpolicy-stub",
    "`distill onpolicy` copies the student to OUT/student and writes plausible metadata "
    "without a step (the tensor-clone stub, on-policy)",
)
def _onpolicy_stub(monkeypatch: Any, tmp_path: Path) -> None:
    from distill import stages

    def on_policy(**kw: Any) -> Any:
        from distill import model
        from distill.checkpoint import atomic_write_json
        from distill.train import METADATA, Outcome

        out_dir = kw["out_dir"]
        stages.prepare_out(out_dir, resume=kw["resume"])
        model.save_model(model.load_model(kw["student_path"]), out_dir / "student")
        epoch = {"epoch": 1, "train_loss": 0.01, "val_loss": 3.0, "tokens_per_second": 0.0,
                 "teacher_nll_of_samples": 2.0, "on_policy_fraction": 1.0}  # fmt: skip
        metadata = {
            "config": {"kind": "onpolicy"},
            "epochs": [epoch],
            "drift_gate": {"relative_change": 1.0, "tolerance": 0.05, "passed": True},
        }
        atomic_write_json(out_dir / METADATA, metadata)
        return Outcome(model_dir=out_dir / "student", metadata=metadata)

    monkeypatch.setattr(stages, "on_policy", on_policy)
