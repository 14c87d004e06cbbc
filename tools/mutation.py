"""`make mutation`: mutmut over the modules whose correctness the contracts lean on, each
module's mutants run only against the tests that import it, so it fits a 2-core machine.
Prints the score per module and every surviving mutant not listed in tools/equivalent-mutants.txt
with its reason; exits 1 if a module misses its target. Each module runs in its own copy of
the tracked tree (mutmut writes `mutants/` there), so the checkout is never touched."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EQUIVALENT = ROOT / "tools" / "equivalent-mutants.txt"
# mutmut's verdicts by the exit code of the test run against a mutant (mutmut/stats.py):
# a failed, crashed or timed-out test run caught the mutant; a passing run, or no test
# covering the mutated function at all, did not
KILLED = {1, 3, 36, 37, -24, 24, 152, 255, -11, -9}
SURVIVED = {0, 5, 33}


@dataclass(frozen=True, slots=True, kw_only=True)
class Group:
    """Files mutated together, the tests that import them, and the target kill ratio."""

    name: str
    files: tuple[str, ...]
    tests: tuple[str, ...]
    target: float


ALSO_COPY = ["tests", "falsify", "contracts", "conftest.py", "pyproject.toml", "distill", "pv"]
FAST = ("-p", "no:randomly", "-p", "no:cacheprovider", "-q", "-x")
GROUPS = (
    Group(
        name="loss",
        # the kernel and the divergences were split out of loss.py; they are its mutants
        files=("distill/loss.py", "distill/kernel.py", "distill/divergence.py"),
        tests=(
            "tests/distill/test_loss.py",
            "tests/distill/test_loss_edges.py",
            "tests/distill/test_fused.py",
            "tests/distill/test_divergence.py",
            "falsify/test_distill_divergences_v1.py",
            "-k",
            # these train or precompute a teacher first: minutes per mutant
            "not test_006 and not cache and not metadata",
        ),
        target=0.90,
    ),
    Group(
        name="fused",
        files=("distill/fused.py",),
        tests=(
            "tests/distill/test_fused.py",
            "falsify/test_distill_divergences_v1.py",
            "-k",
            "not test_006",
        ),
        target=0.90,
    ),
    Group(
        name="cache",
        files=("distill/cache.py",),
        tests=(
            "tests/distill/test_cache.py",
            # writes a cache per test: a session fixture's cache is mapped to one test only
            "tests/distill/test_cache_write.py",
            "tests/distill/test_divergence.py::test_a_top_k_cache_stores_the_full_logsumexp_per_token",
            "tests/distill/test_divergence.py::"
            "test_a_cache_without_logsumexp_serves_tail_zero_and_refuses_bucket",
            "tests/distill/test_divergence.py::"
            "test_a_full_cache_serves_both_tails_without_logsumexp",
        ),
        target=0.80,
    ),
    Group(
        name="rules",
        files=("pv/rules/rules.py",),
        tests=(
            "tests/pv/rules/test_rules.py",
            "tests/pv/rules/test_rules_mutation.py",
            # the kinds, the older spellings and the newer tool's own cases go through rules.py
            "tests/pv/rules/test_aprender_cases.py",
            "tests/pv/rules/test_kinds.py",
            "tests/pv/rules/test_validate.py",
        ),
        target=0.80,
    ),
)


def _config(group: Group) -> str:
    # a test file another branch has not added yet is left out, not an error
    tests = [t for t in group.tests if ".py" not in t or (ROOT / t.split("::")[0]).exists()]
    return "\n".join(
        [
            "",
            "[tool.mutmut]",
            f"source_paths = {json.dumps(sorted({f.split('/')[0] for f in group.files}))}",
            f"only_mutate = {json.dumps(list(group.files))}",
            f"also_copy = {json.dumps(ALSO_COPY)}",
            f"pytest_add_cli_args = {json.dumps(list(FAST))}",
            f"pytest_add_cli_args_test_selection = {json.dumps(tests)}",
            'process_isolation = "forkserver"',
            "",
        ]
    )


def _workdir(group: Group, base: Path) -> Path:
    """A copy of the tracked tree (and untracked, not ignored files) with this group's config."""
    work = base / group.name
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    for name in listed:
        src = ROOT / name
        if src.is_file():
            (work / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, work / name)
    pyproject = work / "pyproject.toml"
    pyproject.write_text(pyproject.read_text(encoding="utf-8") + _config(group), encoding="utf-8")
    return work


def _verdicts(work: Path, group: Group) -> dict[str, dict[str, int | None]]:
    """mutant name -> exit code, per mutated file, from mutmut's .meta files."""
    out: dict[str, dict[str, int | None]] = {}
    for file in group.files:
        meta = work / "mutants" / f"{file}.meta"
        data = json.loads(meta.read_text(encoding="utf-8")) if meta.is_file() else {}
        out[file] = data.get("exit_code_by_key", {})
    return out


def _equivalent() -> dict[str, str]:
    """Mutants judged equivalent (they cannot change behaviour), with the reason."""
    if not EQUIVALENT.is_file():
        return {}
    table = {}
    for line in EQUIVALENT.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, reason = line.partition(" ")
            table[name] = reason.strip()
    return table


def _sample_patterns(group: Group, digits: str) -> list[str]:
    """mutmut name patterns for the mutants whose number ends in one of `digits`."""
    modules = [f.removesuffix(".py").replace("/", ".") for f in group.files]
    return [f"{m}.*__mutmut_*[{digits}]" for m in modules] if digits else []


def run_group(group: Group, base: Path, children: int, sample: str = "") -> tuple[bool, list[str]]:
    """Run mutmut for one group (all mutants, or a systematic sample); (target met, lines)."""
    work = base / group.name
    if not (work / "mutants").is_dir():
        work = _workdir(group, base)
    env = {**os.environ, "PYTHONPATH": "", "PV_MUTANT": ""}
    started = time.monotonic()
    mutmut = Path(sys.executable).parent / "mutmut"
    subprocess.run(
        [str(mutmut), "run", "--max-children", str(children), *_sample_patterns(group, sample)],
        cwd=work,
        env=env,
        stdout=subprocess.DEVNULL,
        check=False,
    )
    wall = time.monotonic() - started
    equivalent = _equivalent()
    lines, ok = [], True
    for file, codes in _verdicts(work, group).items():
        killed = sum(1 for c in codes.values() if c in KILLED)
        survivors = sorted(n for n, c in codes.items() if c in SURVIVED)
        unlisted = [n for n in survivors if n not in equivalent]
        # the score is over the mutants mutmut checked, less those judged equivalent
        judged = killed + len(unlisted)
        score = killed / judged if judged else 0.0
        unchecked = len(codes) - killed - len(survivors)
        ok = ok and score >= group.target and not unlisted and (bool(sample) or not unchecked)
        lines.append(
            f"{file:<24} {len(codes):>4} mutants {killed:>4} killed {len(survivors):>3} survived "
            f"({len(survivors) - len(unlisted)} equivalent) {unchecked:>3} unchecked  "
            f"score {score:6.1%}  target {group.target:.0%}  {wall:6.0f} s"
        )
        lines += [f"    survivor {n}: {equivalent.get(n, 'NOT EXPLAINED')}" for n in survivors]
    return ok, lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("groups", nargs="*", help="loss, fused, cache, rules (default: all)")
    parser.add_argument("--max-children", type=int, default=2)
    parser.add_argument("--keep", type=Path, help="work here and keep it (default: a temp dir)")
    parser.add_argument(
        "--sample",
        default="",
        help="only the mutants whose number ends in these digits (e.g. 0: a 10%% sample)",
    )
    args = parser.parse_args()
    chosen = [g for g in GROUPS if not args.groups or g.name in args.groups]
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="mutation-") as tmp:
        base = args.keep or Path(tmp)
        results = [run_group(g, base, args.max_children, args.sample) for g in chosen]
    for ok, lines in results:
        print("\n".join(lines), "" if ok else "  <- below target or unexplained survivors")
    print(f"wall time {time.monotonic() - started:.0f} s")
    return 0 if all(ok for ok, _ in results) else 1


if __name__ == "__main__":
    sys.exit(main())
