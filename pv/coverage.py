"""`pv coverage`: across a folder of contracts, how many falsification ids are bound to an
executable check (a `@pytest.mark.falsifies` marker found statically, or a `binding:` that
names a test), per contract and in total. Counting, not running: `pv falsify` runs them."""

from __future__ import annotations

import json
from dataclasses import dataclass

from pv.bind import declared_ids
from pv.corpus import Corpus
from pv.status import counts


@dataclass(frozen=True, slots=True, kw_only=True)
class ContractCoverage:
    file: str
    name: str
    obligations: int
    falsification_tests: int
    kani_harnesses: int
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
        c = counts(doc)
        out.append(
            ContractCoverage(
                file=doc.file,
                name=c.name,
                obligations=c.obligations,
                falsification_tests=c.falsification_tests,
                kani_harnesses=c.kani_harnesses,
                bound=tuple(i for i in ids if i in bound_ids),
                unbound=tuple(i for i in ids if i not in bound_ids),
            )
        )
    return out


def render(rows: list[ContractCoverage], fmt: str) -> str:
    """A table (text) or one JSON document, both ending in the totals."""
    bound = sum(len(r.bound) for r in rows)
    ids = bound + sum(len(r.unbound) for r in rows)
    total = {
        "contracts": len(rows),
        "obligations": sum(r.obligations for r in rows),
        "falsification_tests": sum(r.falsification_tests for r in rows),
        "kani_harnesses": sum(r.kani_harnesses for r in rows),
        "bound": bound,
        "percent_bound": round(100.0 * bound / ids, 1) if ids else 0.0,
    }
    if fmt == "json":
        return json.dumps({"contracts": [_json_row(r) for r in rows], "totals": total}, indent=2)
    width = max([len(r.name) for r in rows] + [8])
    lines = [f"{'contract':<{width}}  oblig  falsify  kani  bound"]
    for r in rows:
        lines.append(
            f"{r.name:<{width}}  {r.obligations:>5}  {r.falsification_tests:>7}  "
            f"{r.kani_harnesses:>4}  {len(r.bound):>3}/{len(r.bound) + len(r.unbound):<3}"
            f" {r.percent:5.1f}%"
        )
    lines.append(
        f"Total: {total['contracts']} contracts, {total['obligations']} obligations, "
        f"{total['falsification_tests']} falsification tests, {total['kani_harnesses']} Kani "
        f"harnesses; {bound}/{ids} ids bound ({total['percent_bound']}%)"
    )
    return "\n".join(lines)


def _json_row(r: ContractCoverage) -> dict[str, object]:
    return {
        "file": r.file,
        "name": r.name,
        "obligations": r.obligations,
        "falsification_tests": r.falsification_tests,
        "kani_harnesses": r.kani_harnesses,
        "bound": list(r.bound),
        "unbound": list(r.unbound),
        "percent_bound": round(r.percent, 1),
    }
