"""[tool.pv]: found above the working folder, resolved to absolute paths, refused clearly."""

from __future__ import annotations

from pathlib import Path

import pytest

from pv.core.config import ConfigError, find_pyproject, load_config


def test_the_nearest_pyproject_with_a_tool_pv_table_is_used(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.pv]\ntests = ["t"]\napps = { a = "m:cli" }\n', encoding="utf-8"
    )
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "pyproject.toml").write_text("[project]\nname='x'\n", encoding="utf-8")
    assert find_pyproject(tmp_path / "sub") == tmp_path / "pyproject.toml"
    config = load_config(start=tmp_path / "sub")
    assert config.tests == (tmp_path.resolve() / "t",)
    assert config.contracts == (tmp_path.resolve() / "contracts",)
    assert config.registry == tmp_path.resolve() / "contracts" / "cli-commands-v1.yaml"
    assert config.apps == (("a", "m:cli"),)


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('[tool.pv]\napps = { a = "nocolon" }\n', "expected 'module:attribute'"),
        ('[tool.pv]\napps = ["m:cli"]\n', "must map CLI names"),
        ('[tool.pv]\ntests = "tests"\n', "must be a list of folders"),
        ("[tool.pv]\nregistry = 3\n", "must be a string"),
        ("[tool.pv\n", "cannot read TOML"),
    ],
)
def test_malformed_tables_are_config_errors(tmp_path: Path, table: str, message: str) -> None:
    (tmp_path / "pyproject.toml").write_text(table, encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_config(pyproject=tmp_path / "pyproject.toml")


def test_this_repository_configures_both_clis() -> None:
    config = load_config(pyproject=Path(__file__).resolve().parents[3] / "pyproject.toml")
    assert dict(config.apps) == {"pv": "pv.cli:main", "distill": "distill.cli:main"}
