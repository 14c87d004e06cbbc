"""Tests for pv.contracts.cache: hits, misses on any key change, corrupt packs and entries, atomic
writes."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from pv.contracts import cache as cache_mod
from pv.contracts.cache import Cache
from pv.rules.validate import FileResult, validate_file, validate_paths

EXAMPLE = Path(__file__).parents[1] / "examples" / "bad" / "PV-005-unresolved-kani-obligation.yaml"
RAW = EXAMPLE.read_bytes()


def _result(file: str = "x.yaml") -> FileResult:
    return validate_file(EXAMPLE, file)


def _stored(root: Path, salt: str = "salt") -> Cache:
    cache = Cache(root, salt)
    cache.put(RAW, "x.yaml", _result())
    cache.flush()
    return cache


def test_a_stored_result_comes_back_equal_from_a_fresh_instance(tmp_path: Path) -> None:
    assert Cache(tmp_path, "salt").get(RAW, "x.yaml") is None
    _stored(tmp_path)
    assert Cache(tmp_path, "salt").get(RAW, "x.yaml") == _result()
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".gitignore",
        "CACHEDIR.TAG",
        cache_mod.PACK,
    ]


def test_any_change_to_bytes_name_or_salt_misses(tmp_path: Path) -> None:
    _stored(tmp_path)
    assert Cache(tmp_path, "salt").get(RAW + b"\n", "x.yaml") is None
    assert Cache(tmp_path, "salt").get(RAW, "y.yaml") is None
    assert Cache(tmp_path, "other-version").get(RAW, "x.yaml") is None


@pytest.mark.parametrize("garbage", [b"", b"{not json", b"[]", b"\xff\xfe"])
def test_a_corrupt_pack_is_ignored_and_rewritten(tmp_path: Path, garbage: bytes) -> None:
    (tmp_path / cache_mod.PACK).write_bytes(garbage)
    cache = Cache(tmp_path, "salt")
    assert cache.get(RAW, "x.yaml") is None
    cache.put(RAW, "x.yaml", _result())
    cache.flush()
    assert Cache(tmp_path, "salt").get(RAW, "x.yaml") == _result()


@pytest.mark.parametrize("entry", [{"kind": "contract"}, [], {"kind": "c", "findings": [{"x": 1}]}])
def test_a_malformed_entry_is_a_miss_and_is_dropped(tmp_path: Path, entry: object) -> None:
    key = Cache(tmp_path, "salt").key(RAW, "x.yaml")
    (tmp_path / cache_mod.PACK).write_text(json.dumps({key: entry}))
    cache = Cache(tmp_path, "salt")
    assert cache.get(RAW, "x.yaml") is None
    cache.flush()
    assert json.loads((tmp_path / cache_mod.PACK).read_text()) == {}


def test_an_unwritable_cache_is_skipped_not_fatal(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    cache = _stored(blocker)
    assert cache.get(RAW, "x.yaml") == _result()  # still served from memory this run
    assert blocker.read_text() == "not a folder"


def test_a_failed_write_leaves_no_temp_file_and_keeps_the_old_pack(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _stored(tmp_path)
    before = (tmp_path / cache_mod.PACK).read_bytes()

    def boom(*args: object, **kwargs: object) -> str:
        raise OSError("disk full")

    monkeypatch.setattr(cache_mod.json, "dumps", boom)
    cache = Cache(tmp_path, "salt")
    cache.put(RAW, "y.yaml", _result("y.yaml"))
    cache.flush()
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".gitignore",
        "CACHEDIR.TAG",
        cache_mod.PACK,
    ]
    assert (tmp_path / cache_mod.PACK).read_bytes() == before


def test_the_pack_is_capped_keeping_the_newest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cache_mod, "MAX_ENTRIES", 2)
    cache = Cache(tmp_path, "salt")
    for name in ("a.yaml", "b.yaml", "c.yaml"):
        cache.put(RAW, name, _result(name))
    cache.flush()
    fresh = Cache(tmp_path, "salt")
    assert fresh.get(RAW, "a.yaml") is None
    assert fresh.get(RAW, "c.yaml") == _result("c.yaml")


def test_open_uses_the_env_folder_and_warm_runs_skip_checking(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(cache_mod.ENV_VAR, str(tmp_path / "c"))
    assert Cache.open().root == tmp_path / "c"
    first = validate_paths([EXAMPLE], cache=Cache.open())
    assert (tmp_path / "c" / cache_mod.PACK).is_file()
    calls: list[str] = []
    monkeypatch.setattr("pv.rules.validate.check_document", lambda doc: calls.append(doc.file))
    second = validate_paths([EXAMPLE], cache=Cache.open())
    assert calls == []
    assert second.findings == first.findings
    assert [(r.file, r.kind, r.contract_kind, r.counts) for r in second.files] == [
        (r.file, r.kind, r.contract_kind, r.counts) for r in first.files
    ]


def test_the_run_key_covers_every_name_byte_and_neighbour_unambiguously(tmp_path: Path) -> None:
    cache = Cache(tmp_path, "salt")
    key = cache.run_key(["a.yaml", "b.yaml"], [b"xy", b"z"], [":a,b"])
    assert key == Cache(tmp_path, "salt").run_key(["a.yaml", "b.yaml"], [b"xy", b"z"], [":a,b"])
    others = [
        Cache(tmp_path, "salt2").run_key(["a.yaml", "b.yaml"], [b"xy", b"z"], [":a,b"]),
        cache.run_key(["a.yaml", "b.yaml"], [b"x", b"yz"], [":a,b"]),  # a byte moved across
        cache.run_key(["a.yaml", "b.yamlx"], [b"xy", b"z"], [":a,b"]),
        cache.run_key(["a.yamlx", "y", "b.yaml"], [b"", b"", b"z"], [":a,b"]),
        cache.run_key(["b.yaml", "a.yaml"], [b"z", b"xy"], [":a,b"]),  # order is part of it
        cache.run_key(["a.yaml", "b.yaml"], [b"xy", b"z"], [":a"]),
    ]
    assert len({key, *others}) == len(others) + 1


def test_the_last_output_comes_back_only_for_its_key_and_intact(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "c", "salt")
    assert cache.get_output("k") is None  # nothing stored yet
    cache.put_output("k", 2, 1, "a\nb ü\n")
    assert Cache(tmp_path / "c", "salt").get_output("k") == (2, 1, "a\nb ü\n")
    assert cache.get_output("other") is None
    stored = tmp_path / "c" / cache_mod.RUN
    stored.write_bytes(stored.read_bytes()[:-1])
    assert cache.get_output("k") is None


def test_an_unwritable_last_output_is_skipped_not_fatal(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    cache = Cache(tmp_path / "file" / "c", "salt")  # a folder below a file: cannot exist
    cache.put_output("k", 0, 0, "out")
    assert cache.get_output("k") is None


def test_default_folder_is_pv_cache_in_the_cwd(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(cache_mod.ENV_VAR, raising=False)
    assert cache_mod.default_dir() == Path(".pv-cache")


def _sources(folder: Path, rules_suffix: str = "") -> Path:
    """A copy of pv's modules and schemas, subpackages and all; `rules_suffix` edits the copy
    of rules/rules.py."""
    folder.mkdir()
    for path in [*cache_mod.SOURCES.rglob("*.py"), *cache_mod.SOURCES.rglob("*.json")]:
        copy = folder / path.relative_to(cache_mod.SOURCES)
        copy.parent.mkdir(parents=True, exist_ok=True)
        copy.write_bytes(path.read_bytes())
    rules = folder / "rules" / "rules.py"
    rules.write_text(rules.read_text(encoding="utf-8") + rules_suffix, encoding="utf-8")
    return folder


def test_editing_a_pv_module_at_the_same_version_misses_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cache_mod, "SOURCES", _sources(tmp_path / "same"))
    cache = Cache.open(tmp_path / "c")
    cache.put(RAW, "x.yaml", _result())
    cache.flush()
    assert Cache.open(tmp_path / "c").get(RAW, "x.yaml") == _result()
    edited = _sources(tmp_path / "edited", rules_suffix="\n# a new rule\n")
    monkeypatch.setattr(cache_mod, "SOURCES", edited)
    assert Cache.open(tmp_path / "c").get(RAW, "x.yaml") is None


def test_the_source_digest_covers_modules_and_schemas_by_content(tmp_path: Path) -> None:
    base = cache_mod.source_digest(_sources(tmp_path / "a"))
    assert cache_mod.source_digest(_sources(tmp_path / "b")) == base
    schema = _sources(tmp_path / "c") / "contracts" / "contract.schema.json"
    schema.write_bytes(schema.read_bytes() + b" ")
    assert cache_mod.source_digest(tmp_path / "c") != base
    assert cache_mod.source_digest(_sources(tmp_path / "d", rules_suffix="#")) != base


def test_the_cache_folder_keeps_itself_out_of_git_and_backups(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    (tmp_path / "c.yaml").write_text('metadata: {version: "1.0.0"}\n', encoding="utf-8")
    cache = Cache.open(tmp_path / ".pv-cache")
    validate_paths([tmp_path / "c.yaml"], cache=cache)
    assert (
        (tmp_path / ".pv-cache" / "CACHEDIR.TAG")
        .read_text()
        .startswith("Signature: 8a477f597d28d172789f06886806bc55")
    )
    status = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert status.splitlines() == ["?? c.yaml"]
