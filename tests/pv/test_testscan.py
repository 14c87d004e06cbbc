"""The static test scan: CLI invocations and falsifies markers found with ast, no imports."""

from __future__ import annotations

from pathlib import Path

from pv.testscan import defined_tests, scan

APPS = {"tool": "pkg.cli:main"}
SOURCE = """
import subprocess, sys
import pytest
from click.testing import CliRunner
from pkg.cli import main as entry
import pkg.cli

BASE = ["build", "--fast"]

@pytest.mark.falsifies("FALSIFY-X-001", "FALSIFY-X-002")
def test_named_args():
    args = ["train", "--epochs", "1"]
    CliRunner().invoke(entry, args)
    CliRunner().invoke(pkg.cli.main, [*BASE, "--more"])
    CliRunner().invoke(entry, args=["eval"])

class TestGroup:
    @pytest.mark.cli("tool serve")
    def test_method(self):
        subprocess.run(["tool", "serve", "--port", "1"])
        subprocess.check_output([sys.executable, "-m", "pkg", "gen"])

def test_unrelated():
    CliRunner().invoke(other_app, ["train"])
    subprocess.run(["ls", "-l"])
"""


def test_every_kind_of_invocation_is_found_with_its_test(tmp_path: Path) -> None:
    (tmp_path / "test_x.py").write_text(SOURCE, encoding="utf-8")
    found = scan(tmp_path, (tmp_path,), APPS)
    got = sorted((i.site.test, i.app, i.words, i.via) for i in found.invocations)
    assert got == sorted(
        [
            ("test_named_args", "tool", ("train",), "clirunner"),
            ("test_named_args", "tool", ("build",), "clirunner"),
            ("test_named_args", "tool", ("eval",), "clirunner"),
            ("TestGroup::test_method", "tool", ("serve",), "marker"),
            ("TestGroup::test_method", "tool", ("serve",), "subprocess"),
            ("TestGroup::test_method", "tool", ("gen",), "subprocess"),
        ]
    )
    (bound,) = found.bound
    assert (bound.ids, bound.site.test, bound.site.line) == (
        ("FALSIFY-X-001", "FALSIFY-X-002"),
        "test_named_args",
        10,
    )


def test_a_file_that_does_not_parse_is_reported_not_raised(tmp_path: Path) -> None:
    (tmp_path / "test_bad.py").write_text("def broken(:\n", encoding="utf-8")
    found = scan(tmp_path, (tmp_path,), APPS)
    assert [b.file for b in found.broken] == ["test_bad.py"]
    assert found.invocations == ()


def test_defined_tests_names_functions_and_methods() -> None:
    names = defined_tests("def test_a(): pass\nclass TestB:\n    def test_c(self): pass\n")
    assert names == {"test_a", "TestB", "TestB::test_c"}


ARGV_SOURCE = """
from pkg.cli import main, build_parser
import pkg.cli as cli

ARGS = ["serve", "--port", "1"]

def test_argv_calls():
    main(["train", "--epochs", "1"])
    cli.main(ARGS)
    build_parser().parse_args(["eval"])
    main([])
    main(some_list)
    other(["train"])
"""


def test_argv_lists_handed_to_the_app_module_are_invocations(tmp_path: Path) -> None:
    (tmp_path / "test_argv.py").write_text(ARGV_SOURCE, encoding="utf-8")
    found = scan(tmp_path, (tmp_path,), {"tool": "pkg.cli:build_parser"})
    got = sorted((i.app, i.words, i.via) for i in found.invocations)
    assert got == [
        ("tool", ("eval",), "argv"),
        ("tool", ("serve",), "argv"),
        ("tool", ("train",), "argv"),
    ]
