"""The static test scan: CLI invocations and falsifies markers found with ast, no imports."""

from __future__ import annotations

from pathlib import Path

from pv.binding.testscan import defined_tests, scan

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
        subprocess.check_output([sys.executable, "-m", "pkg.cli", "gen"])

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
        ("tool", (), "argv"),  # the root command, run with no arguments
        ("tool", ("eval",), "argv"),
        ("tool", ("serve",), "argv"),
        ("tool", ("train",), "argv"),
    ]


PATTERNS = """
import subprocess, sys
from functools import partial
import pytest
from click.testing import CliRunner
from pkg import cli
from pkg.cli import main, find_exe

OPTIONS = ["--fast"]

@pytest.fixture
def run():
    return partial(CliRunner().invoke, main)

def test_concatenated(db):
    CliRunner().invoke(main, ["schema", db] + OPTIONS)

def test_fixture(run):
    run(["update"])

def test_shared_fixture(invoke):
    invoke(["query", "x"])

def test_local_partial():
    invoke = partial(CliRunner().invoke, main)
    invoke(["insert", "x"])

def test_own_run_function():
    cli.run(("-f", "parsable", "path"))

def test_helper_called_with_a_string():
    find_exe("python")
    subprocess.run(["git", "status"])

def test_argv_in_a_variable():
    argv = [sys.executable, "-m", "pkg.cli", "lint", "x"]
    subprocess.run(argv, check=True)

def test_global_option_first():
    main(["-f", "x", "build"])

@pytest.mark.waives("DRIFT-011", reason="checks the message for a removed command")
def test_removed():
    main(["gone"])

def test_plugin_command():
    @cli.main.command(name="hello-world")
    def hello(): ...
    CliRunner().invoke(main, ["hello-world"])
"""

CONFTEST = """
import pytest
from click.testing import CliRunner
from pkg.cli import main

@pytest.fixture
def invoke():
    runner = CliRunner()
    return lambda args: runner.invoke(main, args)
"""


def test_every_way_a_test_hands_an_argv_to_the_app_is_read(tmp_path: Path) -> None:
    (tmp_path / "test_patterns.py").write_text(PATTERNS, encoding="utf-8")
    (tmp_path / "conftest.py").write_text(CONFTEST, encoding="utf-8")
    found = scan(tmp_path, (tmp_path,), {"tool": "pkg.cli:main"})
    got = {(i.site.test, i.argv, i.via) for i in found.invocations}
    assert got == {
        ("test_concatenated", ("schema", None, "--fast"), "clirunner"),
        ("test_fixture", ("update",), "clirunner"),
        ("test_shared_fixture", ("query", "x"), "clirunner"),
        ("test_local_partial", ("insert", "x"), "clirunner"),
        ("test_own_run_function", ("-f", "parsable", "path"), "argv"),
        ("test_argv_in_a_variable", ("lint", "x"), "subprocess"),
        ("test_global_option_first", ("-f", "x", "build"), "argv"),
        ("test_removed", ("gone",), "argv"),
        ("test_plugin_command", ("hello-world",), "clirunner"),
    }
    assert found.local_commands == {"hello-world"}
    (waiver,) = found.waivers
    assert (waiver.rule, waiver.reason, waiver.site.nodeid) == (
        "DRIFT-011",
        "checks the message for a removed command",
        "test_patterns.py::test_removed",
    )


MORE = """
import subprocess, sys
import pytest
from click.testing import CliRunner
from ..cli import main as relative_main

@pytest.fixture
def app():
    from pkg.cli import main
    return main

def test_relative_import():
    CliRunner().invoke(relative_main, ["one"])

def test_app_fixture(app):
    CliRunner().invoke(app, ["two"])

def test_grown_argv():
    args = ["three"]
    args += ["--a"]
    args.extend(["--b", "c"])
    args.append("--d")
    CliRunner().invoke(relative_main, args)

def test_import_in_a_function():
    from other.cli import main
    main(["not-ours"])

def test_expected_refusal():
    with pytest.raises(SystemExit):
        relative_main(["nope"])

def test_coverage_wrapper():
    subprocess.run([sys.executable, "-m", "coverage", "run", "-m", "pkg.cli", "four"])

def test_varargs_entry(path):
    relative_main("--count", path)
"""


def test_relative_and_scoped_imports_fixtures_growing_argv_and_expected_refusals(
    tmp_path: Path,
) -> None:
    tests = tmp_path / "pkg" / "tests"
    tests.mkdir(parents=True)
    (tests / "test_more.py").write_text(MORE, encoding="utf-8")
    found = scan(tmp_path, (tests,), {"tool": "pkg.cli:main"})
    got = {(i.site.test, i.argv, i.expects_error) for i in found.invocations}
    assert got == {
        ("test_relative_import", ("one",), False),
        ("test_app_fixture", ("two",), False),
        ("test_grown_argv", ("three", "--a", "--b", "c", "--d"), False),
        ("test_expected_refusal", ("nope",), True),
        ("test_coverage_wrapper", ("four",), False),
        ("test_varargs_entry", ("--count", None), False),
    }


def test_only_a_test_file_that_does_not_parse_is_reported(tmp_path: Path) -> None:
    (tmp_path / "hook_template.py").write_text("{% if x %}\n", encoding="utf-8")
    (tmp_path / "test_broken.py").write_text("def (:\n", encoding="utf-8")
    found = scan(tmp_path, (tmp_path,), {})
    assert [b.file for b in found.broken] == ["test_broken.py"]
