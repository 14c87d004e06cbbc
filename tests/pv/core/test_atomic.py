"""pv.core.atomic: the one atomic write behind the registry, the cache pack and the falsify
report."""

from __future__ import annotations

from pathlib import Path

import pytest

from pv.core import atomic


def test_write_text_replaces_the_file_and_leaves_nothing_else(tmp_path: Path) -> None:
    target = tmp_path / "r.yaml"
    target.write_text("old", encoding="utf-8")
    atomic.write_text(target, "new ü")
    assert target.read_text(encoding="utf-8") == "new ü"
    assert [p.name for p in tmp_path.iterdir()] == ["r.yaml"]


def test_write_text_creates_a_missing_file(tmp_path: Path) -> None:
    atomic.write_text(tmp_path / "fresh.json", "{}")
    assert (tmp_path / "fresh.json").read_text(encoding="utf-8") == "{}"


def test_a_failed_rename_keeps_the_old_file_and_removes_the_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "r.yaml"
    target.write_text("old", encoding="utf-8")

    def refuse(src: str, dst: Path) -> None:
        assert Path(src).read_text(encoding="utf-8") == "new"  # the temp was fully written
        raise OSError("rename refused")

    monkeypatch.setattr(atomic.os, "replace", refuse)
    with pytest.raises(OSError, match="rename refused"):
        atomic.write_text(target, "new")
    assert target.read_text(encoding="utf-8") == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["r.yaml"]


def test_text_that_cannot_be_encoded_keeps_the_old_file_and_removes_the_temp(
    tmp_path: Path,
) -> None:
    target = tmp_path / "r.yaml"
    target.write_text("old", encoding="utf-8")
    with pytest.raises(UnicodeEncodeError):
        atomic.write_text(target, "half \udcff")  # a lone surrogate fails mid-write
    assert target.read_text(encoding="utf-8") == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["r.yaml"]
