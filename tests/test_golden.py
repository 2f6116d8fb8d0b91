"""Stored runs rendered again: report.md, docs/results.md, docs/claims.zh.md and crawl-bench's
report.md must come out exactly as stored (the same verdicts on the same results.json).

``tests/data/golden/<run>/`` holds a results.json and the pages rendered from it. A change of
wording made on purpose re-renders them in the same commit: ``IOMODELS_REGOLD=1 pytest
tests/test_golden.py`` writes the stored pages from the code (then read the diff).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from clients.bench.claims_zh import write_page
from clients.bench.results import render_results
from clients.crawl.report import write_report

GOLDEN = Path(__file__).parent / "data" / "golden"
CRAWL = GOLDEN / "crawl"
#: bench runs: the small hand-made fixture and a real ``make bench QUICK=1`` run
RUNS = sorted(p.name for p in GOLDEN.iterdir() if p.name != "crawl")
REGOLD = os.environ.get("IOMODELS_REGOLD") == "1"


def _compare(rendered: Path, stored: Path) -> None:
    if REGOLD:
        shutil.copyfile(rendered, stored)
    assert rendered.read_text() == stored.read_text(), f"{stored} differs: see its diff"


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A scratch folder as the working directory: the pages name the paths they were made from."""
    monkeypatch.chdir(tmp_path)
    shutil.copytree(CRAWL, tmp_path / "crawl")
    return tmp_path


@pytest.mark.parametrize("run", RUNS)
def test_the_report_and_the_docs_pages(run: str, workdir: Path) -> None:
    shutil.copytree(GOLDEN / run, workdir / "run")
    rendered = render_results(Path("run"), charts=False)
    _compare(rendered, GOLDEN / run / "report.md")
    results_page = render_results(Path("run"), Path("results.md"), charts=False)
    _compare(results_page, GOLDEN / run / "results.md")
    claims_page = write_page(Path("claims.zh.md"), Path("run"), Path("crawl"), charts=False)
    _compare(claims_page, GOLDEN / run / "claims.zh.md")


def test_the_crawl_report(workdir: Path) -> None:
    doc = json.loads((CRAWL / "results.json").read_text())
    write_report(workdir / "crawl", doc["setup"], doc["runs"])
    _compare(workdir / "crawl" / "report.md", CRAWL / "report.md")
