"""Generated contract folders at a client's scale (aprender holds 1,726 contracts), written into a
temporary folder by the bench so nothing large is committed. Two mixes: copies of the older
provable-contracts corpus (kernels), and the newer dialect's mix of kinds, where most files carry
downstream top-level blocks and only about half are kernels."""

from __future__ import annotations

import re
from pathlib import Path

_NEWER = {
    "registry": """\
metadata:
  version: "1.2.0"
  description: "Lookup table {i}: dtype bounds and quantisation block sizes"
  kind: registry
  references: ["docs/specifications/registry-{i}.md"]
entries:
{rows}
""",
    "model-family": """\
metadata:
  version: "1.0.0"
  description: "Architecture family {i}"
  kind: model-family
  references: ["https://arxiv.org/abs/1810.04805"]
family: fam{i}
display_name: "Family {i}"
vendor: Example
architectures: [Model{i}, Model{i}ForCausalLM]
size_variants:
{variants}
""",
    "beat-benchmark": """\
contract: beat-{i}
metadata:
  kind: beat-benchmark
  version: "1.0.0"
  description: "beat {i}: meet-or-beat scikit-learn accuracy on a canonical task"
  references: ["crates/aprender-core/tests/beat_{i}.rs"]
status: enforced
beat:
  pillar: 1
  incumbent: scikit-learn
  metric: accuracy
  direction: higher_is_better
  baseline_value: 0.956
  beat_threshold: 0.92
  approved_compute: CPU
  ci_gate_name: "beat_{i}"
""",
    "kaizen": """\
metadata:
  kind: kaizen
  version: "1.0.0"
  description: "Pre-allocated staging buffer {i}"
  references: ["KAIZEN-{i}"]
contract: C-KZ-{i}
kaizen: KAIZEN-{i}
status: implemented
baseline: {{alloc_per_step: 3, alloc_size_bytes: 1310720}}
target: {{alloc_per_step: 0, alloc_size_bytes: 0}}
""",
    "crux": """\
metadata:
  version: "1.0.0"
  description: "CRUX story {i}"
  kind: registry
  references: ["contracts/crux-competitive-research-ux-v1.yaml"]
  competitor: huggingface
  demand_score: 4
  intake_status: partial
surface:
  verb: "apr pull"
  notes: "{prose}"
falsification_tests:
  - id: FALSIFY-CRUX-{i:04d}
    rule: "parity"
    prediction: "apr matches the competitor's canonical verb"
    if_fails: "parity gap"
""",
}
_PROSE = "the competitor resolves a model id to a cached, verified artifact in one verb; " * 6


def _newer(kind: str, i: int) -> str:
    rows = "\n".join(
        f"  - {{name: dtype_{j}, bits: {j % 32 + 1}, block: {32 * (j % 8 + 1)}}}" for j in range(40)
    )
    variants = "\n".join(
        f"  s{j}: {{parameters: '{j}B', hidden_dim: {512 * (j + 1)}, layers: {12 + j}}}"
        for j in range(12)
    )
    return _NEWER[kind].format(i=i, rows=rows, variants=variants, prose=_PROSE)


def _kernel_copy(text: str, i: int) -> str:
    """A corpus kernel under fresh ids (so no id repeats across copies), with a downstream
    block as most of aprender's contracts carry one."""
    text = re.sub(r"\b(FALSIFY|KANI)-", rf"\1-X{i}-", text)
    return text + f"\nsurface:\n  owner: team-{i % 7}\n  crate: aprender-{i % 13}\n"


def generate(folder: Path, corpus: list[Path], count: int, mix: str) -> list[str]:
    """Write `count` contracts into `folder` and return their paths. `mix` is "kernels"
    (corpus copies only) or "kinds" (half kernels, half the newer kinds)."""
    texts = [p.read_text(encoding="utf-8") for p in corpus]
    kinds = sorted(_NEWER)
    out = []
    for i in range(count):
        sub = folder / f"part{i // len(texts)}"
        sub.mkdir(parents=True, exist_ok=True)
        if mix == "kernels" or i % 2 == 0:
            source = corpus[i % len(texts)]
            path, text = sub / source.name, _kernel_copy(texts[i % len(texts)], i)
        else:
            kind = kinds[(i // 2) % len(kinds)]
            path, text = sub / f"{kind}-{i}-v1.yaml", _newer(kind, i)
        path.write_text(text, encoding="utf-8")
        out.append(str(path))
    return out
