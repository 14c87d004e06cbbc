"""The programs a project declares, wherever it declares them, and what pv init makes of a
project that declares them only in setup.cfg, setup.py or poetry's table."""

from __future__ import annotations

from pathlib import Path

from pv.clis.entrypoints import scripts


def names(root: Path) -> list[tuple[str, str, str]]:
    return [(s.name, s.target, s.source) for s in scripts(root)]


def test_pep_621_and_poetry_scripts(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project.scripts]\ntool = "pkg.cli:main [extra]"\n'
        '[tool.poetry.scripts]\nother = "pkg.other:run"\n'
        'tool = "pkg.shadowed:main"\n'
        'table = { reference = "pkg.table:main", type = "console" }\n'
        'file = { reference = "scripts/x.sh", type = "file" }\n',
        encoding="utf-8",
    )
    assert names(tmp_path) == [
        ("tool", "pkg.cli:main", "[project.scripts]"),  # the first declaration wins
        ("other", "pkg.other:run", "[tool.poetry.scripts]"),
        ("table", "pkg.table:main", "[tool.poetry.scripts]"),
    ]


def test_setup_cfg_console_scripts(tmp_path: Path) -> None:
    (tmp_path / "setup.cfg").write_text(
        "[options.entry_points]\nconsole_scripts =\n    tool = pkg.cli:main\n    bad line\n",
        encoding="utf-8",
    )
    assert names(tmp_path) == [("tool", "pkg.cli:main", "setup.cfg")]


def test_a_literal_entry_points_in_setup_py_read_never_run(tmp_path: Path) -> None:
    (tmp_path / "setup.py").write_text(
        "import sys\nsys.exit('setup.py must not run')\n"
        "setup(name='x', entry_points={'console_scripts':\n"
        "    ['tool=pkg.cli:main', 'two = pkg.b:c']})\n",
        encoding="utf-8",
    )
    assert names(tmp_path) == [
        ("tool", "pkg.cli:main", "setup.py"),
        ("two", "pkg.b:c", "setup.py"),
    ]


def test_unreadable_declarations_declare_nothing(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[project\n", encoding="utf-8")
    (tmp_path / "setup.py").write_text("def (:\n", encoding="utf-8")
    (tmp_path / "setup.cfg").write_text("[options.entry_points\n", encoding="utf-8")
    assert names(tmp_path) == []
    (tmp_path / "setup.py").write_text(
        "setup(entry_points={'console_scripts': 'tool = pkg.cli:main'})\n", encoding="utf-8"
    )
    assert names(tmp_path) == [("tool", "pkg.cli:main", "setup.py")]
    (tmp_path / "setup.py").write_text("setup(entry_points=ENTRY_POINTS)\n", encoding="utf-8")
    assert names(tmp_path) == []
