"""The Makefile reads what it says: every target lists its variables, the others are refused.

Each target declares the variables it reads (``VARS_<target>``); ``make help``
names every one of them beside the target, the README's make block is ``make
help``, and a ``NAME=value`` no goal reads (or a near miss: MODEL for MODELS,
SERVER for MODEL, the old WORKERS) is refused in one line, exit 2, before
anything runs.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def make(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """``make -s ARGS`` in the repository (nothing slow: every case stops or prints)."""
    return subprocess.run(
        ["make", "-s", "--no-print-directory", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
    )


def help_entries() -> dict[str, str]:
    """``make help`` as target -> its text (continuation lines joined)."""
    entries: dict[str, str] = {}
    name = ""
    for line in make("help").stdout.splitlines()[1:]:
        found = re.match(r"  (\S+)\s+(.*)", line)
        if found:
            name = found[1]
            entries[name] = found[2]
        else:
            entries[name] += " " + line.strip()
    return entries


def variables_read(target: str) -> list[str]:
    """``VARS_<target>`` as the Makefile declares it."""
    proc = make("--eval", f"show-vars: ; @echo $(VARS_{target})", "show-vars")
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.split()


def test_every_target_in_help_names_the_variables_it_reads() -> None:
    entries = help_entries()
    assert {"serve", "locust", "loadtest", "compare", "bench", "crawl", "soak"} <= set(entries)
    for target, text in entries.items():
        words = set(re.findall(r"[A-Z][A-Z_]+", text))
        missing = [name for name in variables_read(target) if name not in words]
        assert not missing, f"make help: {target} does not name {missing}"


def test_every_target_declares_what_it_reads() -> None:
    """A target that reads a variable it does not declare would refuse that variable."""
    makefile = (ROOT / "Makefile").read_text()
    for target in help_entries():
        assert re.search(rf"^VARS_{re.escape(target)}\s*:=", makefile, re.M), target


def test_the_readme_make_block_is_make_help() -> None:
    readme = (ROOT / "README.md").read_text()
    block = readme.split("`make help` (or `make` alone) prints this list:\n\n```\n", 1)[1]
    assert block.split("```", 1)[0] == make("help").stdout


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (
            ["bench", "MODEL=uvloop"],
            "MODEL=uvloop is not read by make bench: did you mean MODELS=?",
        ),
        (["compare", "MODEL=uvloop"], "did you mean MODELS=?"),
        (
            ["crawl", "SERVER=thread"],
            "SERVER=thread is not read by make crawl: did you mean MODEL=?",
        ),
        (["locust", "PORT=18081"], "PORT=18081 is not read by make locust"),
        (["loadtest", "WORKERS=2"], "did you mean PROCESSES=?"),
        (["soak", "MODEL=fork"], "did you mean MODELS=?"),
        (["serve", "MODELS=fork"], "did you mean MODEL=?"),
        (["help", "FOO=1"], "FOO=1 is not read by make help"),
    ],
)
def test_a_variable_the_target_does_not_read_is_refused_in_one_line(
    argv: list[str], says: str, tmp_path: Path
) -> None:
    proc = make(*argv)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and says in lines[0], proc.stderr
    assert "reads:" in lines[0]  # and what it does read
    assert proc.stdout == ""  # before anything ran


def test_a_host_without_a_scheme_is_refused_not_dropped() -> None:
    proc = make("loadtest", "HOST=127.0.0.1:8000")
    assert proc.returncode == 2
    assert "HOST=127.0.0.1:8000 has no scheme: use HOST=http://127.0.0.1:8000" in proc.stderr
    assert proc.stdout == ""


def test_variables_the_goals_read_pass() -> None:
    proc = make("-n", "crawl", "MODEL=thread", "CONCURRENCY=3", "VENV=/nonexistent-venv")
    assert proc.returncode == 0, proc.stderr
    assert "--model thread --concurrency 3" in proc.stdout
    both = make("-n", "serve", "test", "MODEL=fork", "PYTEST_ARGS=-x", "VENV=/nonexistent-venv")
    assert both.returncode == 0, both.stderr


def test_bench_takes_duration_as_loadtest_does() -> None:
    for given, seconds in [("1m", "60"), ("90s", "90"), ("1h2m3s", "3723"), ("15", "15")]:
        proc = make("-n", "bench", f"DURATION={given}", "VENV=/nonexistent-venv")
        assert proc.returncode == 0, proc.stderr
        assert f"--duration {seconds}" in proc.stdout, (given, proc.stdout)


def test_extras_are_installed_once_not_every_run(tmp_path: Path) -> None:
    """bench and crawl-bench run pip only while their extra's stamp is older than pyproject.toml."""
    venv = tmp_path / "venv"
    venv.mkdir()
    for stamp in (".installed-stamp", ".extra-references-stamp", ".extra-scrapy-stamp"):
        (venv / stamp).touch()
    for target in ("bench", "crawl-bench"):
        proc = make("-n", target, f"VENV={venv}")
        assert proc.returncode == 0, proc.stderr
        assert "pip install" not in proc.stdout, proc.stdout
        assert f"{venv}/bin/iomodels {target}" in proc.stdout
    (venv / ".extra-scrapy-stamp").unlink()
    proc = make("-n", "crawl-bench", f"VENV={venv}")
    assert "pip install --quiet -e '.[scrapy]'" in proc.stdout
    assert "PYTHONWARNINGS=ignore" in proc.stdout  # no setuptools warning box
