"""docs/claims.zh.md: the article's claims, quoted exactly, judged from results files that hold them or not.

The page is generated from the small fixtures (a bench results.json, a crawl-bench one); every
row's claims, facts, tests and charts must exist, so renaming one in the bench breaks a test here.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

from clients.bench.article import ARTICLE_CLAIMS, CRAWL_CHART, NOT_CLAIMS, VERIFIED
from clients.bench.claims import CLAIMS_BY_ID
from clients.bench.claims_zh import (
    CRAWL_FACTS,
    FACTS,
    FAILS_ZH,
    HOLDS_ZH,
    LIMITED_ZH,
    OUTDATED_ZH,
    UNMEASURED_ZH,
    Evidence,
    judge,
    write_page,
)
from clients.bench.experiments import EXPERIMENTS
from clients.bench.workloads import WORKLOADS

FIXTURES = Path(__file__).parent / "fixtures"
BENCH = FIXTURES / "bench-results"
CRAWL = FIXTURES / "crawl-results"
ROOT = Path(__file__).resolve().parents[1]
#: a copy of the article (../shared/seed/io-models-article.zh.md), kept with the tests' data
ARTICLE = Path(__file__).parent / "data" / "article.zh.md"
#: the curves and experiments, which the fixture does not hold
CURVES = {"fork-cost", "cpu-sweep", "cpu-c", "gil-switch", "conn-sweep"}


def verdicts(ev: Evidence) -> dict[str, str]:
    return {row.id: judge(row, ev).verdict for row in ARTICLE_CLAIMS}


def test_every_quote_is_the_articles_own_words() -> None:
    text = ARTICLE.read_text().replace("**", "")  # its bold marks are left out of the quotes
    quotes = [row.quote for row in ARTICLE_CLAIMS] + [quote for quote, _ in NOT_CLAIMS]
    assert [quote for quote in quotes if quote not in text] == []


def test_every_row_names_what_exists() -> None:
    for row in ARTICLE_CLAIMS:
        assert set(row.claims) <= CLAIMS_BY_ID.keys(), row.id
        assert set(row.facts) <= FACTS.keys(), row.id
        assert all((ROOT / path).exists() for path in row.verified_by), row.id
        for chart in row.charts:
            name = chart.removeprefix(CRAWL_CHART)
            assert chart.startswith(CRAWL_CHART) or re.search(
                "|".join(map(re.escape, [*WORKLOADS, *EXPERIMENTS])), name
            ), row.id
    ids = [row.id for row in ARTICLE_CLAIMS]
    assert len(ids) == len(set(ids))


def test_every_measured_row_can_be_judged() -> None:
    """A row answered by a measurement names at least one claim with a target, or a fact."""
    for row in ARTICLE_CLAIMS:
        if row.rule == VERIFIED:
            continue
        assert row.facts or any(CLAIMS_BY_ID[i].judged for i in row.claims), row.id


def test_the_fixtures_verdicts() -> None:
    got = verdicts(Evidence.read(BENCH, CRAWL))
    assert got["parallel-cores"] == HOLDS_ZH  # multiprocess 2.05x thread on cpu
    assert got["gil-one-core"] == LIMITED_ZH  # 0.99 cores, with the GIL's condition
    assert got["processes-and-coroutines"] == HOLDS_ZH
    assert got["threads-share"] == HOLDS_ZH
    assert got["event-driven"] == UNMEASURED_ZH  # 1,000 idle connections held: too few
    assert got["process-cost"] == UNMEASURED_ZH  # no churn in the fixture
    assert got["posix-threads"] == UNMEASURED_ZH  # no io-wait either
    assert got["io-bound-tasks"] == HOLDS_ZH
    assert got["coroutine-efficiency"] == HOLDS_ZH  # every coroutine crawler cheaper than threads
    assert got["generators"] == OUTDATED_ZH  # CPython 3.11: async def, not generators
    assert got["yield-gevent-asyncio"] == HOLDS_ZH
    assert got["fork-twice"] == got["process-crash"] == HOLDS_ZH  # by the tests
    for row in ARTICLE_CLAIMS:
        if any(CLAIMS_BY_ID[i].workload in CURVES for i in row.claims):
            assert got[row.id] == UNMEASURED_ZH, row.id


def test_without_a_crawl_the_crawl_claims_are_not_measured() -> None:
    ev = Evidence.read(BENCH)
    for row in ARTICLE_CLAIMS:
        if set(row.facts) & CRAWL_FACTS.keys():
            assert judge(row, ev).verdict == UNMEASURED_ZH, row.id


def test_the_split_adds_up() -> None:
    (row,) = [r for r in ARTICLE_CLAIMS if r.id == "coroutine-efficiency"]
    figure = judge(row, Evidence.read(BENCH, CRAWL)).figure
    numbers = dict(
        re.findall(r"(\d+) us（\d+%）在(库|事件循环)", figure)[i][::-1] for i in range(2)
    )
    gap = re.search(r"每页相差 (\d+) us", figure)
    assert gap and abs(int(numbers["库"]) + int(numbers["事件循环"]) - int(gap[1])) <= 1
    assert "500 个并发" in figure and "多线程 481 us" in figure  # the fixture's top level


def test_a_claim_that_fails_here_says_so(tmp_path: Path) -> None:
    copy = tmp_path / "run"
    shutil.copytree(BENCH, copy)
    doc = json.loads((copy / "results.json").read_text())
    doc["machine"]["shared_counter"]["unlocked"]["lost"] = 0  # the GIL hid the race this time
    (copy / "results.json").write_text(json.dumps(doc))
    assert verdicts(Evidence.read(copy))["threads-share"] == FAILS_ZH


def test_a_coroutine_crawler_behind_threads_limits_the_claim(tmp_path: Path) -> None:
    copy = tmp_path / "crawl"
    shutil.copytree(CRAWL, copy)
    doc = json.loads((copy / "results.json").read_text())
    for run in doc["runs"]:
        if run["crawler"] == "asyncio" and run["concurrency"] == 500:
            run["cpu_s"] = 1.2  # 600 us a page: more than the threads' 481
    (copy / "results.json").write_text(json.dumps(doc))
    assert verdicts(Evidence.read(BENCH, copy))["coroutine-efficiency"] == LIMITED_ZH


def test_the_page(tmp_path: Path) -> None:
    page = write_page(tmp_path / "docs" / "claims.zh.md", BENCH, CRAWL)
    text = page.read_text()
    assert text.startswith("# 原文的论断，逐条实测\n")
    assert f"iomodels bench --render {BENCH} --claims-zh {page} --crawl {CRAWL}" in text
    assert "- 基准测试（`iomodels bench`）：提交 1a2b3c4，2026-11-25T09:27:20+00:00" in text
    assert "- 爬虫基准（`iomodels crawl-bench`）：提交 5063885" in text
    assert "| 1 | [真正的并行执行多任务只能在多核CPU上实现](#parallel-cores) | 成立 |" in text
    assert (
        "（但也有一个限度 \\| 适合多线程）" in text
    )  # the article's bar, kept out of the table's way
    assert (
        "multiprocess（每核一个进程）每秒完成的请求是 thread 的 2.05 倍（390 对 190 req/s）" in text
    )
    assert "不加锁丢失 300,000 次更新（共 800,000 次，38%）" in text
    assert text.count("- **判定**：") == len(ARTICLE_CLAIMS)
    assert "[throughput-cpu](claims.zh/throughput-cpu.png)" in text
    charts = sorted(p.name for p in (tmp_path / "docs" / "claims.zh").iterdir())
    # only the charts that measured rows name (not idle-memory.png: the idle row is not measured)
    assert charts == ["cpu-per-request-echo-1k.png", "crawl-pages_per_s.png", "throughput-cpu.png"]
    assert not (BENCH / "report.md").exists()  # the results folders are only read


def test_the_command_writes_the_page_and_refuses_mistakes(tmp_path: Path) -> None:
    bench = [sys.executable, "-m", "iomodels", "bench", "--no-charts"]
    page = tmp_path / "claims.zh.md"
    done = subprocess.run(
        [*bench, "--render", str(BENCH), "--claims-zh", str(page), "--crawl", str(CRAWL)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert "爬虫基准 `coroutine_speed`" in page.read_text()
    assert not (tmp_path / "claims.zh").exists()  # --no-charts
    for args, message in (
        (["--claims-zh", str(page)], "--claims-zh needs --render RESULTS_DIR"),
        (["--render", str(BENCH), "--crawl", str(CRAWL)], "--crawl needs --claims-zh PAGE"),
        (
            ["--render", str(BENCH), "--claims-zh", str(page), "--crawl", str(tmp_path)],
            f"no results.json in {tmp_path}",
        ),
    ):
        refused = subprocess.run([*bench, *args], capture_output=True, text=True)
        assert refused.returncode == 2 and refused.stderr.strip().endswith(message), args
        assert "Traceback" not in refused.stderr
