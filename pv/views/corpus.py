"""A set of contracts loaded from files and folders, for the commands that read many at once
(status, coverage, graph, audit, gate): each file classified as `pv validate` classifies it,
and every contract read through the one contract model (pv.contracts.model)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from pv.binding.bind import contract_files
from pv.contracts.load import Document, load_file
from pv.contracts.model import Contract, artifact, read_contract
from pv.core.findings import Finding


@dataclass(frozen=True, slots=True, kw_only=True)
class Corpus:
    contracts: tuple[Document, ...]
    others: tuple[Document, ...]  # binding registries, publish manifests, corpora declarations
    refused: tuple[Finding, ...]  # files that could not be loaded at all


def load_corpus(paths: Iterable[Path]) -> Corpus:
    """Load every contract file under `paths`; a file that cannot load becomes a finding."""
    contracts: list[Document] = []
    others: list[Document] = []
    refused: list[Finding] = []
    for path in contract_files(paths):
        doc = load_file(path)
        if doc.data is None:
            refused.extend(doc.findings)
        else:
            (contracts if artifact(doc.data) == "contract" else others).append(doc)
    return Corpus(contracts=tuple(contracts), others=tuple(others), refused=tuple(refused))


def model(doc: Document) -> Contract:
    """The contract model of a loaded document (an empty one when it did not load)."""
    return read_contract(doc.file, doc.data or {})


def contract_name(doc: Document) -> str:
    """The name other contracts use in `depends_on`: the file name without its suffix."""
    return Path(doc.file).stem
