"""pv's writers and its result cache under faults: a real file-size limit (RLIMIT_FSIZE in a
child process), concurrent `pv validate` runs sharing one cache, and damaged cache entries."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from pv.cli import main
from pv.contracts.cache import PACK, RUN

CORPUS = Path(__file__).parents[2].parent / "shared" / "corpus" / "provable-contracts"
EXAMPLES = Path(__file__).parent / "examples"
PV = str(Path(sys.executable).with_name("pv"))

LIMITED_WRITE = """
import resource, signal, sys
from pathlib import Path
from pv.core import atomic
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (4096, resource.RLIM_INFINITY))
try:
    atomic.write_text(Path(sys.argv[1]), "x" * 10_000)
except atomic.WriteError as exc:
    print(f"error: {exc}")
    sys.exit(1)
"""


def test_a_write_past_a_file_size_limit_names_the_file_and_keeps_the_old_one(
    tmp_path: Path,
) -> None:
    target = tmp_path / "registry.yaml"
    target.write_text("old: true\n", encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-c", LIMITED_WRITE, str(target)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    assert done.stdout == f"error: cannot write {target}: File too large\n"
    assert target.read_text(encoding="utf-8") == "old: true\n"
    assert [p.name for p in tmp_path.iterdir()] == ["registry.yaml"]


def _folder(tmp_path: Path) -> Path:
    folder = tmp_path / "contracts"
    folder.mkdir()
    sources = sorted(CORPUS.glob("*.yaml"))[:30] or sorted(EXAMPLES.glob("*/*.yaml"))[:30]
    for i, src in enumerate(sources):
        (folder / f"c{i:02d}-{src.name}").write_bytes(src.read_bytes())
    return folder


def _validate(folder: Path, cache: Path | None) -> tuple[int, str]:
    env = {**os.environ, "PV_CACHE_DIR": str(cache or "")}
    args = ["validate", "--format", "json", str(folder)] + ([] if cache else ["--no-cache"])
    result = CliRunner().invoke(main, args, env=env)
    assert result.exit_code in (0, 1, 2), result.output
    return result.exit_code, result.output


def test_concurrent_validate_runs_share_one_cache_and_agree_with_an_uncached_run(
    tmp_path: Path,
) -> None:
    folder, cache = _folder(tmp_path), tmp_path / "cache"
    expected = _validate(folder, None)
    env = {**os.environ, "PV_CACHE_DIR": str(cache)}
    procs = [
        subprocess.Popen(
            [PV, "validate", "--format", "json", str(folder)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=Path.cwd(),  # the same display names as the in-process run
        )
        for _ in range(4)
    ]
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert (proc.returncode, out) == expected, err
    json.loads((cache / PACK).read_text(encoding="utf-8"))  # whole: the last rename won
    markers = {".gitignore", "CACHEDIR.TAG", RUN}
    assert {p.name for p in cache.iterdir()} - markers == {PACK}  # no temp file left behind
    assert _validate(folder, cache) == expected  # and a warm run reads it back


def test_a_damaged_cache_entry_is_ignored_and_rewritten(tmp_path: Path) -> None:
    folder, cache = _folder(tmp_path), tmp_path / "cache"
    expected = _validate(folder, cache)
    pack = json.loads((cache / PACK).read_text(encoding="utf-8"))
    key, entry = next((k, e) for k, e in pack.items() if e["findings"])
    entry["findings"][0][5] = "a tampered message"  # still well formed
    entry["counts"] = {"equations": 999}
    (cache / PACK).write_text(json.dumps(pack), encoding="utf-8")
    (cache / RUN).unlink()  # so the run reads the pack, entry by entry
    assert _validate(folder, cache) == expected  # the tampered entry was not trusted
    rewritten = json.loads((cache / PACK).read_text(encoding="utf-8"))[key]
    assert rewritten["findings"][0][5] != "a tampered message"
    assert _validate(folder, cache) == expected


@pytest.mark.parametrize("garbage", [b"", b"{", b"\x00\xff" * 100, b'{"k": [1, 2'])
def test_a_damaged_pack_is_ignored_and_rewritten(tmp_path: Path, garbage: bytes) -> None:
    folder, cache = _folder(tmp_path), tmp_path / "cache"
    expected = _validate(folder, cache)
    (cache / PACK).write_bytes(garbage)
    (cache / RUN).unlink()  # so the run reads the pack
    assert _validate(folder, cache) == expected
    assert len(json.loads((cache / PACK).read_text(encoding="utf-8"))) >= 1


def test_a_tampered_last_run_report_is_not_trusted(tmp_path: Path) -> None:
    folder, cache = _folder(tmp_path), tmp_path / "cache"
    expected = _validate(folder, cache)
    seal, key, counts, _ = (cache / RUN).read_text(encoding="utf-8").split("\n", 3)
    assert counts != "0 0"
    forged = f"{seal}\n{key}\n0 0\nContract is valid.\n"  # still well formed: "no findings"
    (cache / RUN).write_text(forged, encoding="utf-8")
    assert _validate(folder, cache) == expected
