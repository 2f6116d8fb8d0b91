"""``docs/claims.zh.md``: the article's claims in its own words, each beside its figure and verdict, in Chinese.

The rows are :data:`clients.bench.article.ARTICLE_CLAIMS`; :func:`judge` reads
any of them against a bench results.json (its verdicts checked again with the
claims of this code, as ``--render`` does) and, for the crawl claims, a
crawl-bench results.json. :func:`write_page` writes the page
(``iomodels bench --render RESULTS_DIR --claims-zh PAGE [--crawl CRAWL_DIR]``),
with the charts it points to copied beside it. Nothing is measured here, so
the page cannot say more than the results do: what they do not hold is
listed as 未测量 (not measured).
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clients.bench.article import (
    ARTICLE_CLAIMS,
    CRAWL_CHART,
    LIMITED,
    NOT_CLAIMS,
    OUTDATED,
    ArticleClaim,
)
from clients.bench.claims import CLAIMS_BY_ID
from clients.bench.measures import index
from clients.bench.records import Experiments, Key, Run, Verdict, key
from clients.bench.results import check, load
from clients.crawl.claims import (
    CrawlVerdict,
    coroutine_speed,
    generator_crawl,
    many_tasks,
    up_to_a_limit,
)
from reporting.provenance import Provenance

#: the verdicts, in Chinese, and what each means
HOLDS_ZH = "成立"
LIMITED_ZH = "有条件成立"
OUTDATED_ZH = "已过时"
FAILS_ZH = "本机未成立"
UNMEASURED_ZH = "未测量"
MEANINGS = {
    HOLDS_ZH: "本次测量（或测试）与原文一致",
    LIMITED_ZH: "成立，但有原文没有说的条件（逐条写明）",
    OUTDATED_ZH: "原文说的是旧的 Python，今天的 Python 不是这样（逐条写明）",
    FAILS_ZH: "本次测量与原文不一致",
    UNMEASURED_ZH: "这份结果里没有它的测量：这次运行没有包括相应的负载，或者这项测量还没有实现",
}


@dataclass(frozen=True)
class Fact:
    """A figure computed from a results file for the claims no bench claim answers.

    Attributes:
        numbers: named values for the row's figure template.
        holds: whether it supports the claim (None: it cannot say).
        limited: it supports it only under the row's stated condition.
    """

    numbers: dict[str, Any]
    holds: bool | None
    limited: bool = False


@dataclass
class Evidence:
    """Everything a row can be answered from: one bench run, and optionally one crawl-bench run.

    ``verdicts`` are the bench's own, by claim id: the page shows them, it does not judge again.
    """

    machine: dict[str, Any]
    runs: list[Run]
    verdicts: dict[str, Verdict]
    experiments: Experiments
    crawl: dict[str, Any] | None = None
    by: dict[Key, Run] = field(init=False)

    def __post_init__(self) -> None:
        self.by = index(self.runs)

    @classmethod
    def read(cls, results_dir: Path, crawl_dir: Path | None = None) -> Evidence:
        """The bench run of ``results_dir`` (verdicts checked again) and the crawl-bench run of ``crawl_dir``."""
        machine, runs, _, found = load(results_dir)
        verdicts = {v.id: v for v in check(machine, runs, found)}
        crawl = json.loads((crawl_dir / "results.json").read_text()) if crawl_dir else None
        return cls(machine, runs, verdicts, found, crawl)


# -- facts: figures of a results file that no bench claim names ------------------------------
def _posix_threads(ev: Evidence) -> Fact | None:
    run = ev.by.get(key("io-wait", "thread"))
    if run is None or not run.ok or not run.server_tasks.threads or not run.connections:
        return None
    threads, connections = run.server_tasks.threads, run.connections
    return Fact({"pt_threads": threads, "pt_connections": connections}, threads >= connections)


def _asyncio_generators(ev: Evidence) -> Fact | None:
    """asyncio's coroutines are generators in the run's Python (before 3.5, when ``async def`` came)."""
    python = ev.machine.get("python") or ""
    version = tuple(int(part) for part in re.findall(r"\d+", python)[:2])
    if len(version) < 2:
        return None
    generators = version < (3, 5)
    kind = "基于生成器" if generators else "是 `async def`/`await` 原生协程，不是生成器"
    return Fact({"ag_python": python, "ag_kind": kind}, generators)


def _io_bound(ev: Evidence) -> Fact | None:
    """Many tasks help IO-bound work, up to a limit (the crawl report's two claims)."""
    if ev.crawl is None:
        return None
    many, limit = many_tasks(ev.crawl), up_to_a_limit(ev.crawl)
    if many is None or limit is None:
        return None
    numbers = {
        "io_pages": ev.crawl["setup"]["pages"],
        "io_latency": ev.crawl["setup"]["latency_ms"],
        **many.numbers,
        **limit.numbers,
        "io_peaked": "、".join(limit.numbers["io_peaked"]) or "没有",
    }
    return Fact(numbers, bool(many.holds and limit.holds))


def _crawl_fact(
    claim: Callable[[dict[str, Any]], CrawlVerdict | None],
) -> Callable[[Evidence], Fact | None]:
    def fact(ev: Evidence) -> Fact | None:
        checked = None if ev.crawl is None else claim(ev.crawl)
        return None if checked is None else Fact(checked.numbers, checked.holds, checked.limited)

    return fact


BENCH_FACTS: dict[str, Callable[[Evidence], Fact | None]] = {
    "posix_threads": _posix_threads,
    "asyncio_generators": _asyncio_generators,
}
CRAWL_FACTS: dict[str, Callable[[Evidence], Fact | None]] = {
    "io_bound": _io_bound,
    "coroutine_speed": _crawl_fact(coroutine_speed),
    "generator_crawl": _crawl_fact(generator_crawl),
}
FACTS = {**BENCH_FACTS, **CRAWL_FACTS}


# -- one row --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Judged:
    """A row answered: its verdict in Chinese, the figure, and where both come from."""

    row: ArticleClaim
    verdict: str
    figure: str
    sources: tuple[str, ...]


def judge(row: ArticleClaim, ev: Evidence) -> Judged:
    """The row's verdict and figure from the evidence (未测量 where it lacks something).

    Its answers, each saying whether the article's sentence holds here, are the
    verdicts of its claims that have a target, and its facts. All hold: 成立
    (有条件成立 for a :data:`LIMITED` row or a limited fact). One fails:
    本机未成立, or 已过时 for an :data:`OUTDATED` row (today's Python does
    otherwise). A :data:`VERIFIED` row is proved by its tests, not measured.
    """
    sources = tuple(f"bench 论断 `{CLAIMS_BY_ID[i].text}`" for i in row.claims)
    sources += tuple(
        f"{'爬虫基准' if name in CRAWL_FACTS else 'bench'} `{name}`" for name in row.facts
    )
    sources += tuple(f"`{path}`" for path in row.verified_by)
    verdicts = [ev.verdicts.get(i) for i in row.claims]
    facts = [FACTS[name](ev) for name in row.facts]
    absent = (
        any(v is None for v in verdicts)
        or any(f is None for f in facts)
        or any(
            v is not None
            and CLAIMS_BY_ID[v.id].measure in ("figure", "syscalls")
            and v.result is None
            for v in verdicts
        )
    )
    if absent:
        return Judged(row, UNMEASURED_ZH, "这份结果里没有", sources)
    answers: list[bool | None] = [
        v.holds for v in verdicts if v is not None and CLAIMS_BY_ID[v.id].judged
    ]
    answers += [f.holds for f in facts if f is not None]
    figure = _figure(row, verdicts, facts)
    if any(a is None for a in answers):
        return Judged(row, UNMEASURED_ZH, figure + "（测量不足以判定）", sources)
    if not all(answers):
        return Judged(row, OUTDATED_ZH if row.rule == OUTDATED else FAILS_ZH, figure, sources)
    if row.rule == LIMITED or any(f is not None and f.limited for f in facts):
        return Judged(row, LIMITED_ZH, figure, sources)
    return Judged(row, HOLDS_ZH, figure, sources)


def _figure(
    row: ArticleClaim, verdicts: Sequence[Verdict | None], facts: Sequence[Fact | None]
) -> str:
    if not row.figure:
        return ""
    numbers: dict[str, Any] = {}
    for fact in facts:
        if fact is not None:
            numbers.update(fact.numbers)
    return row.figure.format(v=list(verdicts), **numbers)


# -- the page -------------------------------------------------------------------------------
def provenance_zh(origin: Provenance, what: str, command: str = "") -> str:
    """One line: which run, which commit, when, on what machine."""
    text = (
        f"- {what}：提交 {origin.git_commit or '未知'}，{origin.timestamp or '日期未知'}；"
        f"CPU {origin.cpu_model}（{origin.cpu_count} 核），内存 {origin.memory_gib} GiB；"
        f"{origin.system}；{origin.python}"
    )
    return text + (f"；命令 `{command}`" if command else "")


def render(
    judged: Sequence[Judged],
    ev: Evidence,
    charts: Mapping[str, str],
    made_by: str,
) -> str:
    """The whole page.

    Args:
        charts: chart name (as the rows give it) -> link relative to the page.
        made_by: the command that wrote the page.
    """
    lines = [
        "# 原文的论断，逐条实测",
        "",
        "本页逐条引用《Python多线程、多进程、协程》的原句，列出本项目测得的数字、数字的出处（结果文件中的论断与图表）"
        "和判定。它由测量结果生成，不要手工修改：",
        "",
        f"```sh\n{made_by}\n```",
        "",
        "## 数据来源",
        "",
        provenance_zh(
            Provenance.from_dict(ev.machine),
            "基准测试（`iomodels bench`）",
            ev.machine.get("command", ""),
        ),
    ]
    if ev.crawl is not None:
        setup = ev.crawl["setup"]
        lines.append(
            provenance_zh(
                Provenance.from_dict(setup.get("provenance") or {}),
                "爬虫基准（`iomodels crawl-bench`）",
            )
            + f"；站点 {setup['pages']:,} 页，每页等待 {setup['latency_ms']} ms，服务器 {setup['server']} 模型"
        )
    else:
        lines.append(
            "- 爬虫基准（`iomodels crawl-bench`）：没有提供（`--crawl`），爬虫的论断记为未测量"
        )
    lines += ["", "## 判定的含义", ""]
    lines += [f"- **{name}**：{meaning}" for name, meaning in MEANINGS.items()]
    lines += ["", "## 一览", "", "| # | 原文 | 判定 |", "| ---: | --- | --- |"]
    for number, item in enumerate(judged, 1):
        quote = item.row.quote.replace("|", "\\|")
        lines.append(f"| {number} | [{quote}](#{item.row.id}) | {item.verdict} |")
    for number, item in enumerate(judged, 1):
        row = item.row
        lines += ["", f'<a id="{row.id}"></a>', "", f"### {number}. {row.section}", ""]
        lines += [f"> {row.quote}", "", f"- **判定**：{item.verdict}"]
        if row.note:
            lines.append(f"- **说明**：{row.note}")
        lines.append(f"- **测得**：{item.figure}")
        lines.append(f"- **出处**：{'；'.join(item.sources) or '无'}")
        shown = [f"[{Path(name).stem}]({charts[name]})" for name in row.charts if name in charts]
        if shown:
            lines.append(f"- **图表**：{'，'.join(shown)}")
    lines += ["", "## 未收录的句子", ""]
    lines += [f"- “{quote}”：{why}" for quote, why in NOT_CLAIMS]
    return "\n".join(lines) + "\n"


def write_page(
    page: Path,
    results_dir: Path,
    crawl_dir: Path | None = None,
    *,
    charts: bool = True,
    made_by: str = "",
) -> Path:
    """Write ``page`` from ``results_dir`` (and ``crawl_dir``); its charts go to a folder named after it.

    ``docs/claims.zh.md`` gets ``docs/claims.zh/``, holding only the charts its rows name.
    """
    ev = Evidence.read(results_dir, crawl_dir)
    judged = [judge(row, ev) for row in ARTICLE_CLAIMS]
    links = _draw_charts(page, ev, judged) if charts else {}
    page.parent.mkdir(parents=True, exist_ok=True)
    command = made_by or _command(page, results_dir, crawl_dir)
    page.write_text(render(judged, ev, links, command))
    return page


def _command(page: Path, results_dir: Path, crawl_dir: Path | None) -> str:
    crawl = f" --crawl {crawl_dir}" if crawl_dir else ""
    return f"iomodels bench --render {results_dir} --claims-zh {page}{crawl}"


def _draw_charts(page: Path, ev: Evidence, judged: Sequence[Judged]) -> dict[str, str]:
    """Draw the run's charts, keep those the rows name (measured ones) beside the page; name -> link."""
    from clients.bench.charts import draw_all

    wanted = {name for item in judged if item.verdict != UNMEASURED_ZH for name in item.row.charts}
    folder = page.with_suffix("")
    links: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as scratch:
        drawn = {
            p.name: p
            for paths in draw_all(ev.runs, Path(scratch), ev.experiments).values()
            for p in paths
        }
        if ev.crawl is not None and any(name.startswith(CRAWL_CHART) for name in wanted):
            from clients.crawl.report import chart

            crawl_chart = Path(scratch) / "crawl-pages_per_s.png"
            chart(crawl_chart, ev.crawl["runs"], ev.crawl["setup"]["levels"])
            drawn[CRAWL_CHART + "pages_per_s.png"] = crawl_chart
        for name in sorted(wanted & drawn.keys()):
            folder.mkdir(parents=True, exist_ok=True)
            target = folder / drawn[name].name
            shutil.copyfile(drawn[name], target)
            links[name] = f"{folder.name}/{target.name}"
    return links
