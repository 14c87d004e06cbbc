"""`pv coverage`: across a folder of contracts, how many falsification ids are bound to an
executable check (a `@pytest.mark.falsifies` marker found statically, or a `binding:` that
names a test), per contract and in total. Counting, not running: `pv falsify` runs them."""

from __future__ import annotations

import json
from dataclasses import dataclass

from pv.binding.bind import declared_ids
from pv.views.corpus import Corpus
from pv.views.status import Counts, counts, total_line, totals


@dataclass(frozen=True, slots=True, kw_only=True)
class ContractCoverage:
    file: str
    counts: Counts
    bound: tuple[str, ...]
    unbound: tuple[str, ...]

    @property
    def percent(self) -> float:
        total = len(self.bound) + len(self.unbound)
        return 100.0 * len(self.bound) / total if total else 0.0


def coverage(corpus: Corpus, bound_ids: set[str]) -> list[ContractCoverage]:
    """Per contract, its declared ids split into bound and unbound."""
    out = []
    for doc in corpus.contracts:
        ids = [d.id for d in declared_ids(doc.file, doc.data or {})]
        out.append(
            ContractCoverage(
                file=doc.file,
                counts=counts(doc),
                bound=tuple(i for i in ids if i in bound_ids),
                unbound=tuple(i for i in ids if i not in bound_ids),
            )
        )
    return out


def render(rows: list[ContractCoverage], fmt: str) -> str:
    """A table (text) or one JSON document, both ending in `pv status`'s totals plus binding."""
    bound = sum(len(r.bound) for r in rows)
    ids = bound + sum(len(r.unbound) for r in rows)
    counted = totals([r.counts for r in rows])
    percent = round(100.0 * bound / ids, 1) if ids else 0.0
    if fmt == "json":
        total = {**counted, "bound": bound, "percent_bound": percent}
        return json.dumps({"contracts": [_json_row(r) for r in rows], "totals": total}, indent=2)
    width = max([len(r.counts.name) for r in rows] + [8])
    lines = [f"{'contract':<{width}}  oblig  falsify  kani  bound"]
    for r in rows:
        c = r.counts
        lines.append(
            f"{c.name:<{width}}  {c.obligations:>5}  {c.falsification_tests:>7}  "
            f"{c.kani_harnesses:>4}  {len(r.bound):>3}/{len(r.bound) + len(r.unbound):<3}"
            f" {r.percent:5.1f}%"
        )
    lines.append(f"{total_line(counted)}; {bound}/{ids} ids bound ({percent}%)")
    return "\n".join(lines)


def _json_row(r: ContractCoverage) -> dict[str, object]:
    return {
        "file": r.file,
        "name": r.counts.name,
        "obligations": r.counts.obligations,
        "falsification_tests": r.counts.falsification_tests,
        "kani_harnesses": r.counts.kani_harnesses,
        "bound": list(r.bound),
        "unbound": list(r.unbound),
        "percent_bound": round(r.percent, 1),
    }
