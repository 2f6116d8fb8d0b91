"""tools/python_build.py: the apt sources it reads, reuse of a cached build, one-line refusals."""

from __future__ import annotations

import importlib.util
import subprocess
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location(
    "python_build", Path(__file__).parent.parent / "tools" / "python_build.py"
)
assert _spec is not None and _spec.loader is not None
python_build = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(python_build)


def test_only_the_debian_archive_uris_of_the_machine_are_used(tmp_path: Path) -> None:
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list").write_text(
        "deb [arch=amd64] http://mirror.example/debian/ bookworm main\n"
        "deb https://packages.example.com/apt cloud-sdk main\n"
    )
    (tmp_path / "sources.list.d" / "debian.sources").write_text(
        "Types: deb\nURIs: http://archive.example/debian\nSuites: bookworm\n\n"
        "Types: deb\nURIs: http://archive.example/debian-security\nSuites: bookworm-security\n"
    )
    assert python_build.archive_uris(tmp_path) == [
        "http://mirror.example/debian",
        "http://archive.example/debian",
    ]


def fake_python(root: Path, name: str, exit_code: int) -> Path:
    python = root / name / "bin" / ("python3.13t" if name.endswith("t") else "python3.13")
    python.parent.mkdir(parents=True)
    python.write_text(f"#!/bin/sh\nexit {exit_code}\n")
    python.chmod(0o755)
    return python


def test_a_cached_build_is_reused_without_apt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # the probe exits 0 when the GIL is off: a free-threaded build does, one with the GIL not
    fake_python(tmp_path, "3.13.2t", 0)
    newest = fake_python(tmp_path, "3.13.5t", 0)
    fake_python(tmp_path, "3.13.9t", 1)  # claims free threading but runs with the GIL: not it
    gil = fake_python(tmp_path, "3.13.5", 1)
    monkeypatch.setattr(python_build, "CACHE", tmp_path)

    def no_build() -> None:
        raise AssertionError("a cached interpreter must not be rebuilt")

    monkeypatch.setattr(python_build, "check_tools", no_build)
    assert python_build.main(["--free-threaded"]) == 0
    assert capsys.readouterr().out == f"{newest}\n"
    assert python_build.main([]) == 0
    assert capsys.readouterr().out == f"{gil}\n"


def test_missing_tools_are_one_line_naming_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(python_build, "CACHE", tmp_path)
    monkeypatch.setattr(python_build.shutil, "which", lambda name: None)
    assert python_build.main(["--free-threaded"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.strip().splitlines() == [
        "python_build: needs apt-get, make, a C compiler: apt-get install build-essential"
    ]


def test_the_cached_build_of_this_machine_runs_as_its_kind() -> None:
    """Where `make python-ft` has run, what it prints is a free-threaded interpreter."""
    python = python_build.installed(python_build.CACHE, free_threaded=True)
    if python is None:
        pytest.skip("no free-threaded build cached here (make python-ft)")
    out = subprocess.run(
        [python, "-c", "import sys; print(sys._is_gil_enabled())"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.stdout.strip() == "False"
