"""Imports point one way: the command line imports the tools, never the reverse; views import data.

Read from the sources (no import runs): ``iomodels.cli`` is the top, so no module
under ``clients/`` imports it; the web tab reads the samples' shape from
``loadtests.samples`` and is installed by the plugin, so it never imports the plugin.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def imported_modules(path: Path) -> set[str]:
    """Every module ``path`` imports, at the top or inside a function."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("path", sorted((ROOT / "clients").rglob("*.py")), ids=str)
def test_no_client_imports_the_command_line(path: Path) -> None:
    assert "iomodels.cli" not in imported_modules(path)


def test_the_web_tab_does_not_import_the_plugin_that_installs_it() -> None:
    assert "loadtests.server_plugin" not in imported_modules(ROOT / "loadtests" / "web_tab.py")
    assert "loadtests.web_tab" in imported_modules(ROOT / "loadtests" / "server_plugin.py")
