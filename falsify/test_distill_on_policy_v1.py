"""The executable checks behind contracts/distill-on-policy-v1.yaml: one per FALSIFY id, run
against the real objective (distill.onpolicy.OnPolicy, what the training loop calls) or the
real CLI, each naming the mutants it must kill (falsify/mutants.py; `pv falsify --mutants`).
The bounded harness is in test_distill_on_policy_v1_harnesses.py."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
import torch
from click.testing import CliRunner
from torch import nn
from torch.nn import functional as F

from distill import model, onpolicy, rollout
from distill.cli import main
from distill.config import OnPolicyConfig, TrainConfig
from distill.data import default_text
from distill.runs import content_digests
from falsify.conftest import QUIET_CPU, EngineRun, options, succeeded
from tests.distill.test_train import killed_after

P, G, B = 16, 16, 4  # prompt and continuation tokens, rows


def _windows(offset: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """(x, y) of B corpus windows of P + G tokens, as the training loop hands them over."""
    raw = torch.tensor(list(default_text()[offset : offset + B * (P + G + 1)]))
    rows = raw.view(B, P + G + 1)
    return rows[:, :-1], rows[:, 1:]


def _objective(
    teacher: nn.Module, *, seed: int = 0, config: TrainConfig | None = None, **policy: Any
) -> onpolicy.OnPolicy:
    return onpolicy.OnPolicy(
        teacher=onpolicy.freeze(teacher),
        policy=OnPolicyConfig(prompt_len=P, gen_len=G, **policy),
        config=config or TrainConfig(seed=seed, divergence="reverse_kl", alpha=1.0),
    )


def _pair(run: EngineRun, student: Path) -> tuple[nn.Module, nn.Module]:
    return model.load_model(run.teacher), model.load_model(student)


def _greedy(net: nn.Module, prompts: torch.Tensor, steps: int) -> torch.Tensor:
    """The reference: argmax continuation by recomputing the whole prefix each step."""
    ids = prompts
    with torch.no_grad():
        for _ in range(steps):
            ids = torch.cat([ids, net(ids)[:, -1].argmax(-1, keepdim=True)], dim=1)
    return ids[:, prompts.shape[1] :]


def _onpolicy(run: EngineRun, student: Path, out: Path, *extra: str) -> dict[str, Any]:
    """`distill onpolicy` on the embedded corpus (micro schedule); OUT/metadata.json."""
    args = options(student=student, teacher=run.teacher, out=out, prompt_len=P, gen_len=G)
    micro = options(batch_size=B, warmup_steps=0, drift_tolerance=0)
    argv = ["onpolicy", *args, *micro, *run.data_args, *QUIET_CPU, *extra]
    succeeded(CliRunner().invoke(main, argv))
    metadata: dict[str, Any] = json.loads((out / "metadata.json").read_text(encoding="utf-8"))
    return metadata


# --- FALSIFY-001 ------------------------------------------------------------------------------


@pytest.mark.falsifies("FALSIFY-DISTILL-ONPOLICY-001")
@pytest.mark.mutants("rollout-from-corpus", "rollout-from-teacher")
def test_001_the_rollouts_are_the_students_own_samples(
    micro_run: EngineRun, micro_student: Path, tmp_path: Path
) -> None:
    teacher = model.load_model(micro_run.teacher)
    torch.manual_seed(1)  # untrained: its greedy text is neither the teacher's nor the corpus's
    student = model.GPT(model.GPTConfig(**json.loads(micro_run.size_file.read_text())))
    x, y = _windows()
    objective = _objective(teacher, gen_temperature=0.0)
    objective(student, x, y, step=0, micro=0, normalizer=B * G)
    assert objective.last_sequence is not None
    trained_on = objective.last_sequence[:, P:]
    own = _greedy(student, x[:, :P], G)
    # the three candidates differ here, so the check can tell them apart
    assert not torch.equal(own, _greedy(teacher, x[:, :P], G))
    assert not torch.equal(own, x[:, P : P + G])
    assert torch.equal(trained_on, own)
    assert torch.equal(objective.last_sequence[:, :P], x[:, :P])
    epochs = _onpolicy(
        micro_run, micro_student, tmp_path / "run", "--epochs", "1", "--steps-per-epoch", "2"
    )["epochs"]
    assert epochs[-1]["on_policy_fraction"] == 1.0
    assert epochs[-1]["teacher_nll_of_samples"] > 0


# --- FALSIFY-002 ------------------------------------------------------------------------------


class _Logits(nn.Module):
    """The student, keeping the logits it returns so that their gradient can be read."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner
        self.logits: torch.Tensor | None = None

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.inner(idx)
        if out.requires_grad:  # the loss's forward, not a sampling step (no_grad)
            out.retain_grad()
            self.logits = out
        return out


def _reverse_kl_reference(student: torch.Tensor, teacher: torch.Tensor) -> float:
    """Per token, float64: sum_c q_c (log q_c - log p_c) over the continuation positions."""
    lq = F.log_softmax(student[:, P - 1 :].double(), -1)
    lp = F.log_softmax(teacher[:, P - 1 :].double(), -1)
    return float((lq.exp() * (lq - lp)).sum(-1).mean())


@pytest.mark.falsifies("FALSIFY-DISTILL-ONPOLICY-002")
@pytest.mark.mutants("loss-includes-prompt")
def test_002_the_loss_covers_the_continuation_tokens_only(
    micro_run: EngineRun, micro_student: Path
) -> None:
    teacher, student = _pair(micro_run, micro_student)
    x, y = _windows()
    for objective_name, lmbda in (("full", 0.0), ("full", 1.0), ("sampled", 1.0)):
        net = _Logits(student)
        objective = _objective(teacher, lmbda=lmbda, objective=objective_name)
        out, _, _ = objective(net, x, y, step=0, micro=0, normalizer=B * G)
        seq = objective.last_sequence
        assert seq is not None
        assert net.logits is not None
        with torch.no_grad():
            t = teacher(seq[:, :-1])
        s = net.logits.detach()
        if objective_name == "full":
            want = _reverse_kl_reference(s, t)
        else:  # the estimate: sum of log q - log p of the sampled continuation tokens / N
            ids = seq[:, P:].unsqueeze(-1)
            lq = F.log_softmax(s[:, P - 1 :].double(), -1).gather(-1, ids)
            lp = F.log_softmax(t[:, P - 1 :].double(), -1).gather(-1, ids)
            want = float((lq - lp).sum()) / (B * G)
        assert float(out.total.detach()) == pytest.approx(want, rel=1e-4, abs=1e-6), objective_name
        assert out.tokens == B * G
        out.total.backward()
        grad = net.logits.grad
        assert grad is not None
        assert float(grad[:, : P - 1].abs().max()) == 0.0, objective_name  # prompt targets
        assert float(grad[:, P - 1 :].abs().max()) > 0.0, objective_name
        student.zero_grad(set_to_none=True)


# --- FALSIFY-003 ------------------------------------------------------------------------------


@pytest.mark.falsifies("FALSIFY-DISTILL-ONPOLICY-003")
@pytest.mark.mutants("teacher-not-frozen", "estimator-cost-not-detached")
def test_003_no_gradient_through_sampling_and_the_teacher_is_frozen(
    micro_run: EngineRun, micro_student: Path, tmp_path: Path
) -> None:
    teacher, student = _pair(micro_run, micro_student)
    x, y = _windows(offset=5000)
    objective = _objective(teacher, objective="sampled")
    out, _, _ = objective(student, x, y, step=3, micro=0, normalizer=B * G)
    out.total.backward()
    assert all(not p.requires_grad and p.grad is None for p in teacher.parameters())
    got = [p.grad.clone() for p in student.parameters() if p.grad is not None]
    student.zero_grad(set_to_none=True)
    # the reference: the sample and its costs are constants; only log q carries the graph
    seq = objective.last_sequence
    assert seq is not None
    ids = seq[:, P:].unsqueeze(-1)
    lq = F.log_softmax(student(seq[:, :-1])[:, P - 1 :].double(), -1).gather(-1, ids).squeeze(-1)
    with torch.no_grad():
        lp = F.log_softmax(teacher(seq[:, :-1])[:, P - 1 :].double(), -1).gather(-1, ids)
    cost = (lq.detach() - lp.squeeze(-1)).flip(-1).cumsum(-1).flip(-1)
    others = (cost.sum(0, keepdim=True) - cost) / (B - 1)  # the other samples' mean
    (lq * (cost - others)).sum().div(B * G).backward()
    want = [p.grad for p in student.parameters() if p.grad is not None]
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert torch.allclose(g.double(), w.double(), rtol=1e-3, atol=1e-6)
    before = model.fingerprint(micro_run.teacher)
    _onpolicy(
        micro_run, micro_student, tmp_path / "run", "--epochs", "1", "--steps-per-epoch",
        "2", "--objective", "sampled",
    )  # fmt: skip
    assert model.fingerprint(micro_run.teacher) == before


# --- FALSIFY-004 ------------------------------------------------------------------------------


@pytest.mark.falsifies("FALSIFY-DISTILL-ONPOLICY-004")
@pytest.mark.mutants("lambda-ignored")
def test_004_lambda_zero_is_training_on_the_corpus_continuations(
    micro_run: EngineRun, micro_student: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    teacher, student = _pair(micro_run, micro_student)
    objective = _objective(teacher, lmbda=0.0)
    for step in range(6):
        x, y = _windows(offset=step * 997)
        objective(student, x, y, step=step, micro=0, normalizer=B * G)
        assert torch.equal(objective.last_sequence, x[:, : P + G])
    draws = [(step, micro) for step in range(40) for micro in (0, 1)]
    half = [onpolicy.samples_this_micro(0.5, 0, step, micro) for step, micro in draws]
    assert 0.3 < sum(half) / len(half) < 0.7

    def never(*args: Any, **kwargs: Any) -> torch.Tensor:
        raise AssertionError("sampled at lambda 0")

    monkeypatch.setattr(rollout, "continue_ids", never)
    epochs = _onpolicy(
        micro_run, micro_student, tmp_path / "run", "--lambda", "0", "--epochs", "2",
        "--steps-per-epoch", "2",
    )["epochs"]  # fmt: skip
    assert [e["on_policy_fraction"] for e in epochs] == [0.0, 0.0]
    assert [e["teacher_nll_of_samples"] for e in epochs] == [None, None]


# --- FALSIFY-005 ------------------------------------------------------------------------------

STEPS = "40"


def _reverse_kl_of_samples(run: EngineRun, model_dir: Path) -> float:
    args = options(model=model_dir, teacher=run.teacher, samples=128, seq_len=64)
    shape = options(prompt_len=16, gen_len=32, seed=0, format="json")
    result = succeeded(CliRunner().invoke(main, ["eval", *args, *shape, "--device", "cpu"]))
    return float(json.loads(result.output)["reverse_kl_of_samples"])


@pytest.mark.falsifies("FALSIFY-DISTILL-ONPOLICY-005")
@pytest.mark.mutants("onpolicy-stub", "optimizer-step-skipped")
def test_005_on_policy_lowers_the_reverse_kl_of_samples_against_offline_steps(
    embedded_run: EngineRun, onpolicy_student: Path, tmp_path: Path
) -> None:
    schedule = options(epochs=1, steps_per_epoch=STEPS, batch_size=16, lr=1e-3, warmup_steps=0)
    offline, online = tmp_path / "offline", tmp_path / "online"
    train_args = options(cache=embedded_run.cache, student=onpolicy_student, out=offline)
    result = CliRunner().invoke(
        main, ["train", *train_args, *schedule, "--drift-tolerance", "0", *QUIET_CPU]
    )
    succeeded(result)
    on_args = options(student=onpolicy_student, teacher=embedded_run.teacher, out=online)
    shape = options(prompt_len=16, gen_len=32, drift_tolerance=0)
    succeeded(CliRunner().invoke(main, ["onpolicy", *on_args, *shape, *schedule, *QUIET_CPU]))
    before = _reverse_kl_of_samples(embedded_run, onpolicy_student)
    after_offline = _reverse_kl_of_samples(embedded_run, offline)
    after_online = _reverse_kl_of_samples(embedded_run, online)
    assert after_online < after_offline, (before, after_offline, after_online)
    assert after_online < before, (before, after_offline, after_online)


# --- FALSIFY-006 ------------------------------------------------------------------------------


@pytest.mark.falsifies("FALSIFY-DISTILL-ONPOLICY-006")
@pytest.mark.mutants("rollout-unseeded")
def test_006_killed_and_resumed_equals_uninterrupted(
    micro_run: EngineRun, micro_student: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = ("--epochs", "2", "--steps-per-epoch", "3", "--lambda", "0.7", "--checkpoint-every", "1")
    _onpolicy(micro_run, micro_student, tmp_path / "straight", *run)
    expected = content_digests(tmp_path / "straight")
    for kill in random.Random(6).sample(range(1, 6), 2):  # moments over the 6-step run
        out = tmp_path / f"killed-{kill}"
        with monkeypatch.context() as patch:
            killed_after(patch, kill)
            args = options(
                student=micro_student, teacher=micro_run.teacher, out=out, prompt_len=P,
                gen_len=G, batch_size=B, warmup_steps=0, drift_tolerance=0,
            )  # fmt: skip
            argv = ["onpolicy", *args, *micro_run.data_args, *QUIET_CPU, *run]
            result = CliRunner().invoke(main, argv)
            assert result.exit_code != 0  # killed
        assert (out / "checkpoint.pt").is_file()
        _onpolicy(micro_run, micro_student, out, *run, "--resume")
        assert content_digests(out) == expected, kill


# --- FALSIFY-007 ------------------------------------------------------------------------------


@pytest.mark.falsifies("FALSIFY-DISTILL-ONPOLICY-007")
@pytest.mark.mutants("gen-temperature-ignored")
def test_007_generation_settings_are_used_and_recorded(
    micro_run: EngineRun, micro_student: Path, tmp_path: Path
) -> None:
    teacher, student = _pair(micro_run, micro_student)
    x, y = _windows()

    def rollout_of(seed: int, temperature: float) -> torch.Tensor:
        objective = _objective(teacher, seed=seed, gen_temperature=temperature)
        objective(student, x, y, step=0, micro=0, normalizer=B * G)
        assert objective.last_sequence is not None
        return objective.last_sequence

    assert torch.equal(rollout_of(1, 0.0), rollout_of(2, 0.0))  # greedy: no draw at all
    assert not torch.equal(rollout_of(1, 1.0), rollout_of(2, 1.0))
    metadata = _onpolicy(
        micro_run, micro_student, tmp_path / "run", "--epochs", "1", "--steps-per-epoch",
        "1", "--lambda", "0.5", "--gen-temperature", "0.7", "--divergence", "jsd",
    )  # fmt: skip
    assert metadata["on_policy"] == {
        "lmbda": 0.5,
        "objective": "full",
        "prompt_len": P,
        "gen_len": G,
        "gen_temperature": 0.7,
    }
    assert metadata["divergence"]["name"] == "jsd"
    assert metadata["config"]["onpolicy.gen_temperature"] == 0.7
    refused = CliRunner().invoke(
        main,
        ["onpolicy", *options(student=micro_student, teacher=micro_run.teacher,
         out=tmp_path / "biased", objective="sampled", gen_temperature=0.5), *QUIET_CPU],
    )  # fmt: skip
    assert refused.exit_code == 1
    assert refused.output.strip().splitlines() == [
        "error: the sampled objective estimates KL(q || p) from samples of q itself: it needs "
        "--gen-temperature 1, got 0.5"
    ]
    assert not (tmp_path / "biased").exists()
