"""What a contract's kind decides: which rules apply (only kernels must carry obligations, tests
and harnesses), and the rules some kinds add of their own (a beat-benchmark's `beat:` block, the
research metadata of CRUX stories). Also the top-level key rules that run before the kind split,
because a stray top-level `kind:` is exactly the key that would otherwise decide it.
"""

from __future__ import annotations

import math
from functools import cache
from typing import TYPE_CHECKING, Any

from pv.contracts.model import effective_kind as effective_kind  # the kind is the contract model's
from pv.core.findings import Finding
from pv.core.ruletable import make, text

if TYPE_CHECKING:
    from pv.contracts.load import Document

KINDS = (
    "kernel", "registry", "model-family", "model-family-variant", "tokenizer", "training-loop",
    "pretraining-corpus", "training-precondition-gate", "corpus-assembly", "pattern", "schema",
    "beat-benchmark", "kaizen", "competitive-parity",
)  # fmt: skip
# The top-level blocks the newer Rust pv models; any other top-level key is a downstream
# block it keeps but does not check (about 70% of aprender's contracts carry one).
TOP_LEVEL_FIELDS = (
    "metadata", "equations", "proof_obligations", "kernel_structure", "simd_dispatch",
    "enforcement", "falsification_tests", "kani_harnesses", "qa_gate", "verification_summary",
    "type_invariants", "coq_spec", "beat", "stories", "falsification",
    "falsification_conditions", "parity",
)  # fmt: skip
BEAT_INCUMBENTS = ("scikit-learn", "pytorch", "unsloth", "ollama", "llama.cpp")
CRUX_COMPETITORS = frozenset({
    "apr-qa-playbook", "autogluon", "burn", "ecosystem", "hf-kernels-community", "huggingface",
    "linfa", "llama_cpp", "mlflow", "none", "ollama", "openclaw", "openclip", "pulp-free-chat",
    "pytorch", "qwen", "unsloth", "vllm",
})  # fmt: skip
KIND_DEFAULT = "no metadata.kind, judged kernel by default"


def metadata(data: dict[str, Any]) -> dict[str, Any]:
    meta = data.get("metadata")
    return meta if isinstance(meta, dict) else {}


def _forms(key: str) -> set[str]:
    """A key folded for near-miss matching: case and separators dropped, plus its -s / -es
    singulars (sets, so qa_gates ~ qa_gate and kani_harness ~ kani_harnesses both hold)."""
    squashed = "".join(c for c in key.lower() if c.isascii() and c.isalnum())
    out = {squashed}
    for suffix in ("es", "s"):
        if squashed.endswith(suffix) and len(squashed) > len(suffix):
            out.add(squashed[: -len(suffix)])
    return out


_FIELD_FORMS = tuple((f, _forms(f)) for f in TOP_LEVEL_FIELDS)


@cache
def near_miss(key: str) -> str | None:
    """The real block name `key` is a case/separator/plural slip of, if any."""
    forms = _forms(key)
    return next((f for f, theirs in _FIELD_FORMS if theirs & forms), None)


def top_level_rules(doc: Document, data: dict[str, Any], known: frozenset[str]) -> list[Finding]:
    """SCHEMA-018 (a top-level `kind:`) and SCHEMA-019 (a near-miss of a block name)."""
    out = []
    for key in data:
        if key in known or key in TOP_LEVEL_FIELDS:
            continue
        if key == "kind":
            message = "top-level `kind:` is not part of the contract and decides nothing"
            hint = "move it under metadata: as metadata.kind, or delete it"
            out.append(make(doc, "SCHEMA-018", ("kind",), message, hint))
        elif (meant := near_miss(key)) is not None:
            message = f"top-level `{key}:` is not a contract block and no check sees it"
            out.append(make(doc, "SCHEMA-019", (key,), message, f"did you mean `{meant}:`?"))
    return out


def beat_rules(doc: Document, data: dict[str, Any]) -> list[Finding]:
    """BEAT-001..007: a beat-benchmark pins a falsifiable, CI-wired baseline."""
    beat = data.get("beat")
    if not isinstance(beat, dict):
        message = "a beat-benchmark contract must define a `beat:` block"
        hint = "give incumbent, metric, direction, beat_threshold, ci_gate_name, approved_compute"
        return [make(doc, "BEAT-001", ("beat",), message, hint)]
    out: list[tuple[str, str, str]] = []
    incumbent = text(beat.get("incumbent")).lower()
    if not incumbent:
        out.append(("BEAT-002", "incumbent", "beat.incumbent must not be empty"))
    elif not any(p in incumbent for p in BEAT_INCUMBENTS):
        pillars = ", ".join(BEAT_INCUMBENTS)
        out.append(("BEAT-002", "incumbent", f"beat.incumbent must name one of: {pillars}"))
    if not text(beat.get("metric")):
        out.append(("BEAT-003", "metric", "beat.metric must name the measured quantity"))
    if text(beat.get("direction")) not in ("higher_is_better", "lower_is_better"):
        message = "beat.direction must be higher_is_better or lower_is_better"
        out.append(("BEAT-004", "direction", message))
    threshold = beat.get("beat_threshold")
    if not isinstance(threshold, (int, float)) or not math.isfinite(threshold):
        message = "beat.beat_threshold must be a finite number: the pinned value CI fails past"
        out.append(("BEAT-005", "beat_threshold", message))
    if not text(beat.get("ci_gate_name")):
        message = "beat.ci_gate_name must name the CI test that enforces this gate"
        out.append(("BEAT-006", "ci_gate_name", message))
    if text(beat.get("approved_compute")).upper() not in ("CPU", "GPU"):
        out.append(("BEAT-007", "approved_compute", "beat.approved_compute must be CPU or GPU"))
    return [make(doc, rule, ("beat", key), message) for rule, key, message in out]


def crux_rules(doc: Document, data: dict[str, Any]) -> list[Finding]:
    """CRUX-001/002 on metadata (when present) and on every `stories:` row (always)."""
    meta = metadata(data)
    out = []
    if "demand_score" in meta and not _score_ok(meta["demand_score"], required=False):
        message = f"metadata.demand_score {meta['demand_score']} is outside 1..5"
        out.append(make(doc, "CRUX-001", ("metadata", "demand_score"), message))
    competitor = meta.get("competitor")
    if isinstance(competitor, str) and competitor.strip() not in CRUX_COMPETITORS:
        message = f"metadata.competitor {competitor!r} is not a known research source"
        out.append(make(doc, "CRUX-002", ("metadata", "competitor"), message, _competitors()))
    stories = data.get("stories")
    for i, row in enumerate(stories if isinstance(stories, list) else []):
        if not isinstance(row, dict):
            continue
        where, name = ("stories", i), row.get("id", i)
        if not _score_ok(row.get("demand_score"), required=True):
            message = f"story {name}: demand_score must be given, within 1..5"
            out.append(make(doc, "CRUX-001", (*where, "demand_score"), message))
        rival = row.get("competitor")
        if not isinstance(rival, str) or rival.strip() not in CRUX_COMPETITORS:
            message = f"story {name}: competitor {rival!r} is not a known research source"
            out.append(make(doc, "CRUX-002", (*where, "competitor"), message, _competitors()))
    return out


def _score_ok(score: Any, *, required: bool) -> bool:
    if score is None:
        return not required
    return isinstance(score, int) and not isinstance(score, bool) and 1 <= score <= 5


def _competitors() -> str:
    return "one of: " + ", ".join(sorted(CRUX_COMPETITORS))
