"""Publish manifests are checked against the publish-manifest schema contract found beside
them (their folder, or one of the two above), which the case files cannot carry."""

from __future__ import annotations

from pathlib import Path

import pytest

from pv.rules.validate import validate_file

SCHEMA = """\
metadata:
  version: "1.0.0"
  description: "what a publish manifest must carry"
  kind: schema
  references: ["the release checklist"]
schema:
  required_fields: [model_id, sha256, size_bytes, artifact_url]
  provenance_required_fields: [pipeline, commit]
"""

GOOD = """\
model_id: team/model
sha256: "%s"
size_bytes: 1024
artifact_url: https://example.org/model.safetensors
provenance:
  pipeline: distill
  commit: abc1234
""" % ("0" * 64)


@pytest.mark.parametrize("depth", [0, 1, 2])
def test_a_manifest_is_checked_against_the_schema_beside_or_above_it(
    tmp_path: Path, depth: int
) -> None:
    (tmp_path / "publish-manifest-v1.yaml").write_text(SCHEMA, encoding="utf-8")
    folder = tmp_path / "/".join(["sub"] * depth) if depth else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    manifest = folder / "m.yaml"
    manifest.write_text(GOOD, encoding="utf-8")
    assert validate_file(manifest).findings == ()
    assert validate_file(manifest).kind == "publish-manifest"


@pytest.mark.parametrize(
    ("old", "new", "rule", "where"),
    [
        ("size_bytes: 1024\n", "", "PM-SHAPE-001", "$.size_bytes"),
        ("model_id: team/model", "model_id: team/model\nartifact_url2: x", None, None),
        ("  commit: abc1234\n", '  commit: "  "\n', "PM-SHAPE-002", "$.provenance.commit"),
        ('sha256: "' + "0" * 64, 'sha256: "' + "A" * 64, "PM-SHAPE-003", "$.sha256"),
        ("size_bytes: 1024", "size_bytes: 0", "PM-SHAPE-004", "$.size_bytes"),
        ("size_bytes: 1024", "size_bytes: 1.5", "PM-SHAPE-004", "$.size_bytes"),
        ("https://example.org", "http://example.org", "PM-SHAPE-005", "$.artifact_url"),
    ],
)
def test_each_manifest_rule_refuses_its_defect(
    tmp_path: Path, old: str, new: str, rule: str | None, where: str | None
) -> None:
    (tmp_path / "publish-manifest-v1.yaml").write_text(SCHEMA, encoding="utf-8")
    manifest = tmp_path / "m.yaml"
    manifest.write_text(GOOD.replace(old, new), encoding="utf-8")
    found = [(f.rule, f.path) for f in validate_file(manifest).findings]
    assert found == ([] if rule is None else [(rule, where)])


def test_three_folders_up_is_too_far(tmp_path: Path) -> None:
    (tmp_path / "publish-manifest-v1.yaml").write_text(SCHEMA, encoding="utf-8")
    deep = tmp_path / "a" / "b" / "c"
    deep.mkdir(parents=True)
    (deep / "m.yaml").write_text(GOOD, encoding="utf-8")
    assert [f.rule for f in validate_file(deep / "m.yaml").findings] == ["PM-SHAPE-000"]
