"""A set of contracts loaded from files and folders, for the commands that read many at once
(status, coverage, graph, audit, gate), sorted by `pv validate`'s classification: full
contracts, partial contracts (fragments) and binding registries are kept apart."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from pv.bind import contract_files
from pv.findings import Finding
from pv.load import Document, load_file
from pv.validate import classify


@dataclass(frozen=True, slots=True, kw_only=True)
class Corpus:
    contracts: tuple[Document, ...]
    partials: tuple[Document, ...]  # fragments with metadata but no equations/obligations/kani
    bindings: tuple[Document, ...]
    refused: tuple[Finding, ...]  # files that could not be loaded at all


def load_corpus(paths: Iterable[Path]) -> Corpus:
    """Load every *.yaml / *.yml under `paths`; a file that cannot load becomes a finding."""
    kinds: dict[str, list[Document]] = {"contract": [], "partial": [], "binding": []}
    refused: list[Finding] = []
    for path in contract_files(paths):
        doc = load_file(path)
        if doc.data is None:
            refused.extend(doc.findings)
        else:
            kinds[classify(doc.data)].append(doc)
    return Corpus(
        contracts=tuple(kinds["contract"]),
        partials=tuple(kinds["partial"]),
        bindings=tuple(kinds["binding"]),
        refused=tuple(refused),
    )


def contract_name(doc: Document) -> str:
    """The name other contracts use in `depends_on`: the file name without its suffix."""
    return Path(doc.file).stem


def section_list(doc: Document, key: str) -> list[object]:
    value = (doc.data or {}).get(key)
    return value if isinstance(value, list) else []


def section_map(doc: Document, key: str) -> dict[str, object]:
    value = (doc.data or {}).get(key)
    return value if isinstance(value, dict) else {}
