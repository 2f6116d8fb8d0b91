"""The article's claims in its own words, each with the measurements that answer it: the data of ``docs/claims.zh.md``.

The article is "Python多线程、多进程、协程" (Python threads, processes and
coroutines); every :class:`ArticleClaim` quotes one of its sentences exactly,
names what answers it (claims of :mod:`clients.bench.claims`, facts computed
from a results file, or the tests that prove it), the chart to look at, how to
say the figure in Chinese and the rule that turns the answers into a verdict.
Every answer says whether the article's sentence holds here. :func:`clients.bench.claims_zh.judge`
reads any row; a new claim is one row here.
"""

from __future__ import annotations

from dataclasses import dataclass

#: verdict rules: what a row's answers mean (see :func:`clients.bench.claims_zh.judge`)
HOLDS = "holds"  # they hold: 成立; one fails: 本机未成立
LIMITED = "limited"  # they hold, under a condition the article does not state: 有条件成立
OUTDATED = "outdated"  # they hold: 成立; one fails because today's Python does otherwise: 已过时
VERIFIED = "verified"  # proved by tests or by construction, not by a measurement: 成立

#: the crawl-bench chart, copied beside the page with this prefix
CRAWL_CHART = "crawl/"


@dataclass(frozen=True)
class ArticleClaim:
    """One sentence of the article and what answers it.

    Attributes:
        id: a short name (the page's anchor).
        section: the article's heading the sentence sits under.
        quote: the sentence, exactly as the article has it (its bold marks left out).
        claims: ids of bench claims (:data:`clients.bench.claims.CLAIMS`) whose
            verdicts answer it.
        facts: names of facts computed from the results
            (:data:`clients.bench.claims_zh.BENCH_FACTS`, :data:`clients.bench.claims_zh.CRAWL_FACTS`).
        verified_by: tests or code that prove it, when no measurement does.
        charts: chart files of the bench run (``throughput-cpu.png``) or, with
            :data:`CRAWL_CHART` in front, of the crawl-bench run.
        figure: the figure in Chinese, a ``str.format`` template: ``v`` is the list
            of the verdicts of ``claims``, in order (their numbers ``value``,
            ``theirs``, ``result`` and ``numbers[name]``, or a curve's figures in
            ``measured``); the facts' numbers are names of their own.
        rule: how the answers make the verdict (:data:`HOLDS`, :data:`LIMITED`,
            :data:`OUTDATED`, :data:`VERIFIED`).
        note: in Chinese, the condition (:data:`LIMITED`), what changed
            (:data:`OUTDATED`) or what is left untested.
    """

    id: str
    section: str
    quote: str
    claims: tuple[str, ...] = ()
    facts: tuple[str, ...] = ()
    verified_by: tuple[str, ...] = ()
    charts: tuple[str, ...] = ()
    figure: str = ""
    rule: str = HOLDS
    note: str = ""


_GIL = (
    "在有 GIL 的 CPython 上如此。3.13 的 free-threaded 构建（3.13.5t，3.13 中为实验性）上不成立："
    "thread 服务器用满两个核，数字见 docs/free-threading.md；每个子解释器一个 GIL 的 interpreters 模型"
    "也用满所有核，见 docs/python313.md"
)

ARTICLE_CLAIMS: tuple[ArticleClaim, ...] = (
    ArticleClaim(
        "parallel-cores", "多进程",
        "真正的并行执行多任务只能在多核CPU上实现",
        claims=("cpu-multiprocess-vs-thread",),
        charts=("throughput-cpu.png",),
        figure="`cpu` 负载（每个请求约 5 ms 纯 Python 计算，服务器可用所有核）：multiprocess（每核一个进程）"
               "每秒完成的请求是 thread 的 {v[0].result:.2f} 倍（{v[0].value:,.0f} 对 {v[0].theirs:,.0f} req/s）",
    ),
    ArticleClaim(
        "fork-twice", "多进程",
        "一个父进程可以fork出很多子进程，所以，父进程要记下每个子进程的ID，而子进程只需要调用 `getppid()` 就可以拿到父进程的ID",
        verified_by=("tests/test_fork.py", "tests/test_robustness_faults.py"),
        figure="fork 模型为每个连接 `fork()` 一次，记下每个子进程的 pid，在 SIGCHLD 处理中回收：连接关闭、子进程崩溃或服务器停止后，不留下任何子进程",
        rule=VERIFIED,
    ),
    ArticleClaim(
        "fork-copies", "多进程",
        "因为操作系统自动把当前进程（父进程）复制了一份（子进程），分别在父进程和子进程内返回",
        claims=("fork-cost-size",),
        charts=("fork-cost.png",),
        figure="`fork-cost`：每 fork 一个立即退出的子进程，父子两边的 CPU，从最小的父进程到最大的：{v[0].measured}",
        note="Linux 的 fork 是写时复制：复制的是页表，内存页要等有人写时才复制；所以父进程越大 fork 越贵，但远比复制全部内存便宜",
    ),
    ArticleClaim(
        "multiprocessing-portable", "多进程",
        "由于Windows没有fork调用，python提供 `multiprocessing` 模块实现跨平台版本的多进程",
        verified_by=("tests/test_multiprocess.py", "servers/models/multiprocess.py"),
        figure="multiprocess 模型用 `multiprocessing` 的 spawn 方式启动 worker（不经过 `fork()`），崩溃的 worker 会被重新启动",
        rule=VERIFIED,
        note="只在 Linux 上验证过，Windows 未测试",
    ),
    ArticleClaim(
        "threads-need-cores", "多线程",
        "真正地同时执行多线程需要多核CPU才可能实现",
        claims=("cpu-thread-one-core",),
        charts=("throughput-cpu.png",),
        figure="`cpu` 负载，服务器可用所有核：thread 服务器（每个请求一个线程）只用了 {v[0].value:.2f} 个核",
        rule=LIMITED,
        note="多核是必要条件，但对 CPython 的线程不够：有 GIL 时多核上的线程仍然只能交替执行（见“GIL”一节）",
    ),
    ArticleClaim(
        "posix-threads", "多线程",
        "Python的线程是真正的Posix Thread，而不是模拟出来的线程",
        facts=("posix_threads",),
        figure="`io-wait` 负载（{pt_connections:,} 个连接同时等待）：thread 服务器进程里有 {pt_threads:,} 个内核线程，每个连接一个",
    ),
    ArticleClaim(
        "threads-share", "多线程",
        "多线程中所有变量都由所有线程共享，所以任何一个变量都可以被任何一个线程修改，因此线程之间共享数据最大的危险在于多个线程同时改一个变量，需要创建线程锁 `threading.Lock()`",
        claims=("shared-counter",),
        figure="{v[0].numbers[threads]} 个线程各对同一个计数器做 {v[0].numbers[updates]:,} 次“读-改-写”："
               "不加锁丢失 {v[0].numbers[lost]:,} 次更新（共 {v[0].numbers[expected]:,} 次，{v[0].numbers[share]:.0%}）；"
               "用 `threading.Lock` 丢失 {v[0].numbers[locked_lost]:,} 次，每次更新 {v[0].numbers[us]:.2f} us",
    ),
    ArticleClaim(
        "gil-100-bytecodes", "Python 全局线程锁（GIL）",
        "每执行100条字节码，解释器就自动释放GIL锁，让别的线程有机会执行",
        claims=("gil-switch-handover",),
        charts=("gil-switch.png",),
        figure="`gil-switch`：两个纯 Python 计算线程轮流持有 GIL，记下每次交接：{v[0].measured}",
        rule=OUTDATED,
        note="CPython 3.2 起按时间片（`sys.getswitchinterval()`，默认 5 ms）而不是按字节码条数切换 GIL",
    ),
    ArticleClaim(
        "gil-one-core", "Python 全局线程锁（GIL）",
        "多线程在Python中只能交替执行，即n个线程跑在n核CPU上，也只能用到1个核",
        claims=("cpu-thread-one-core", "cpu-multiprocess-vs-thread"),
        charts=("throughput-cpu.png",),
        figure="`cpu` 负载，服务器可用所有核：thread 服务器只用了 {v[0].value:.2f} 个核；"
               "同样的请求，每核一个进程的 multiprocess 是它的 {v[1].result:.2f} 倍",
        rule=LIMITED, note=_GIL,
    ),
    ArticleClaim(
        "process-cost", "多进程 PK 多线程",
        "创建进程的代价大",
        claims=(
            "churn-fork-beyond-uvloop",
            "churn-thread-beyond-uvloop",
            "churn-gevent-beyond-uvloop",
            "churn-prefork-vs-fork",
        ),
        charts=("churn-cost.png",),
        figure="`churn` 负载（每个请求一个新连接）：比起事件循环（uvloop），每个连接 fork 一个进程多花 {v[0].result:,.0f} us 服务器 CPU，"
               "一个线程多花 {v[1].result:,.0f} us，一个 greenlet 多花 {v[2].result:,.0f} us；"
               "进程预先创建好（prefork），每个连接的 CPU 只有 fork 的 {v[3].result:.2f} 倍",
    ),
    ArticleClaim(
        "process-crash", "多进程 PK 多线程",
        "多进程中一个子进程崩溃了，不会影响主进程和其他子进程",
        verified_by=("tests/test_robustness_faults.py", "servers/registry.py"),
        figure="`GET /crash`（SIGSEGV）：fork 只丢掉那一个连接；multiprocess、prefork 只丢掉一个 worker，随即补上；其余连接照常服务",
        rule=VERIFIED,
    ),
    ArticleClaim(
        "thread-crash", "多进程 PK 多线程",
        "多线程中任何一个线程挂掉都可能直接造成整个进程崩溃",
        verified_by=("tests/test_robustness_faults.py", "servers/registry.py"),
        figure="`GET /crash`（SIGSEGV）：thread、gevent、asyncio、uvloop 服务器整个进程退出，所有连接一起断开",
        rule=VERIFIED,
    ),
    ArticleClaim(
        "cpu-bound-cores", "计算(CPU)密集型任务",
        "任务越多，花在任务切换的时间就越多，CPU执行任务的效率就越低，所以要最高效地利用CPU，计算密集型任务同时进行的数量应当等于CPU的核心数",
        claims=(
            "cpu-sweep-multiprocess-knee",
            "cpu-sweep-prefork-knee",
            "cpu-sweep-fork-knee",
        ),
        charts=("cpu-sweep-rps.png",),
        figure="`cpu-sweep`（纯 Python 计算，同时 1 到 8 个请求，由同样多的进程处理）：吞吐在进程数等于核数时停止上升，"
               "多出的进程只增加每个请求的 CPU。multiprocess：{v[0].measured}；prefork：{v[1].measured}；fork：{v[2].measured}",
    ),
    ArticleClaim(
        "cpu-bound-c", "计算(CPU)密集型任务",
        "对于计算密集型任务，最好用C语言编写，Python这类脚本语言运行效率很低",
        claims=(
            "cpu-c-thread-speedup",
            "cpu-c-thread-cores",
            "cpu-sweep-thread-one-core",
        ),
        charts=("cpu-c-cores.png",),
        figure="`cpu-c`（SHA-256，C 代码，计算时释放 GIL）：thread 服务器 4 个客户端对 1 个：{v[0].measured}；"
               "用了 {v[1].value:.2f} 个核，而同样 4 个客户端的纯 Python 计算只用了 {v[2].value:.2f} 个核",
        rule=LIMITED,
        note="测的是 C 代码释放 GIL 后线程可以并行，用满多核；没有比较同一计算用 C 与用 Python 写的速度",
    ),
    ArticleClaim(
        "io-bound-tasks", "IO密集型任务",
        "对于IO密集型任务，任务越多，CPU效率越高（但也有一个限度 | 适合多线程）",
        facts=("io_bound",),
        charts=(CRAWL_CHART + "pages_per_s.png",),
        figure="爬虫基准（{io_pages:,} 页的站点，每页等待 {io_latency} ms，爬虫独占一个核）：一次一个请求 {io_base:,.0f} 页/秒；"
               "{io_mid} 个并发时最快 {io_mid_best:,.0f} 页/秒（{io_mid_gain:.0f} 倍），{io_top} 个并发时最快 {io_top_best:,.0f} 页/秒"
               "（{io_top_gain:.0f} 倍）：并发从 {io_mid} 增加到 {io_top}，吞吐只增加到 {io_top_growth:.1f} 倍，爬虫自己的 CPU 成了上限"
               "（在 {io_top} 时已经比 {io_prev} 时慢的：{io_peaked}）；多线程 {io_top} 时 {io_threads:,.0f} 页/秒",
    ),
    ArticleClaim(
        "io-bound-database", "IO密集型任务",
        "对于IO密集型任务，任务越多，CPU效率越高（但也有一个限度 | 适合多线程）",
        claims=("upstream-connections", "upstream-thread-cpu-growth"),
        figure="`upstream`（每个请求一次真实的 Redis 往返）：{v[0].numbers[clients]:,.0f} 个客户端时，"
               "每个客户端一个线程或进程的模型最多打开 {v[0].numbers[per_client]:,.0f} 个 Redis 连接，共享连接池的事件循环最多 "
               "{v[0].theirs:,.0f} 个；客户端从最少到最多，thread 每个请求的服务器 CPU 增长到 {v[1].value:.2f} 倍，"
               "增长最多的事件循环只有 {v[1].theirs:.2f} 倍",
        rule=LIMITED,
        note="多线程能做 IO 密集型任务，但每个线程要占一个数据库连接（数据库限制连接数），线程越多每个请求的 CPU 越多；"
             "事件循环用一个小连接池就够了",
    ),
    ArticleClaim(
        "one-thread-many-io", "协程",
        "在异步IO模型下，一个线程就可以同时处理多个IO请求，并且没有切换线程的操作",
        claims=("io-wait-uvloop-efficiency", "io-wait-asyncio-efficiency"),
        charts=("io-wait-efficiency.png",),
        figure="`io-wait` 负载（500 个连接，每个请求等待 50 ms，理想为 10,000 req/s）：一个 uvloop 线程达到理想吞吐的 {v[0].value:.1%}，"
               "一个 asyncio 线程 {v[1].value:.1%}",
    ),
    ArticleClaim(
        "event-driven", "协程",
        "充分利用操作系统提供的异步IO支持，就可以用单进程单线程模型来执行多任务，这种全新的模型称为事件驱动模型（ngnix）",
        claims=("idle-uvloop-kib", "idle-uvloop-p99"),
        charts=("idle-memory.png",),
        figure="`idle` 负载：一个 uvloop 线程同时保持 {v[0].numbers[idle_held]:,.0f} 个空闲连接，每个 {v[0].value:.1f} KiB；"
               "这时其他请求的 p99 延迟是没有空闲连接时的 {v[1].value:.2f} 倍",
    ),
    ArticleClaim(
        "coroutine-efficiency", "协程与多线程相比的优势",
        "协程的执行效率极高。子程序切换不是线程切换，而是由程序自身控制，因此没有线程切换的开销",
        facts=("coroutine_speed",),
        charts=(CRAWL_CHART + "pages_per_s.png",),
        figure="爬虫基准，{cs_level} 个并发（爬虫独占一个核）：每页 CPU 时间 多线程 {cs_threads_us:,.0f} us，"
               "asyncio + aiohttp {cs_aiohttp_us:,.0f} us，asyncio streams {cs_streams_us:,.0f} us，uvloop streams {cs_uvloop_us:,.0f} us，"
               "生成器协程 {cs_gen_us:,.0f} us；每秒页数依次为 {cs_threads:,.0f}、{cs_aiohttp:,.0f}、{cs_streams:,.0f}、{cs_uvloop:,.0f}、{cs_gen:,.0f}。"
               "aiohttp 与生成器协程每页相差 {cs_gap_us:,.0f} us，其中 {cs_library_us:,.0f} us（{cs_library_share:.0%}）在库"
               "（同一个 asyncio 循环上 aiohttp 对 http1.py），{cs_loop_us:,.0f} us（{cs_loop_share:.0%}）在事件循环"
               "（asyncio 的任务和 streams 对 handloop 的生成器和 socket，同一套 HTTP 代码）",
        note="协程省多少，还取决于每个请求做多少事：测得里把 aiohttp 与生成器协程的差距分成 HTTP 库和事件循环两部分",
    ),
    ArticleClaim(
        "coroutines-scale", "协程与多线程相比的优势",
        "线程数量越多，协程的性能优势就越明显",
        claims=(
            "conn-sweep-thread-growth",
        ),
        charts=("conn-sweep-cpu.png",),
        figure="`conn-sweep`（10 到 5,000 个连接，每个请求等待 连接数/10 ms）：thread 服务器（每个连接一个线程）"
               "每个请求的服务器 CPU 与 uvloop 之比，从 10 个连接到 1,000 个连接增长到：{v[0].measured}",
    ),
    ArticleClaim(
        "coroutines-slow-clients", "协程与多线程相比的优势",
        "线程数量越多，协程的性能优势就越明显",
        claims=("slow-clients-pools-hurt", "rate-sweep-io-wait-knees"),
        charts=("slow-clients-rps.png", "rate-sweep-io-wait-p99.png"),
        figure="`slow-clients`（快客户端旁边有 {v[0].numbers[slow]:,.0f} 个慢客户端，请求几个字节几个字节地发）："
               "事件循环至少保住快客户端 {v[0].value:.0%} 的吞吐，固定大小的池（prefork、threadpool）最多 {v[0].theirs:.0%}；"
               "`rate-sweep-io-wait`（固定到达率，500 个连接）：事件循环的拐点最低 {v[1].value:,.0f} req/s，池的最高 {v[1].theirs:,.0f} req/s",
    ),
    ArticleClaim(
        "coroutines-no-locks", "协程与多线程相比的优势",
        "只有一个线程，不存在同时写变量冲突，在协程中控制共享资源不加锁，只需要判断状态就好了",
        verified_by=("servers/stats.py", "tests/test_event_loops.py"),
        figure="事件循环与 gevent 服务器的 `/stats` 计数器（`LocalStats`）只被一个线程修改，不加锁；thread 服务器的（`LockedStats`）每次更新都要 `threading.Lock`",
        rule=VERIFIED,
        note="由构造保证，没有测量“执行效率比多线程高很多”",
    ),
    ArticleClaim(
        "processes-and-coroutines", "协程与多线程相比的优势",
        "在多核CPU上采用多进程+协程的方式，既充分利用多核，又充分发挥协程的高效率，因此性能极高",
        claims=("cpu-multiprocess-vs-thread", "echo-1k-multiprocess-cpu-vs-kind"),
        charts=("throughput-cpu.png", "cpu-per-request-echo-1k.png"),
        figure="`cpu` 负载：multiprocess（每核一个 uvloop 进程）是 thread 的 {v[0].result:.2f} 倍；"
               "`echo-1k` 负载：每条消息 {v[1].value:.1f} us 服务器 CPU，是最简 uvloop 服务器（ref-bare）的 {v[1].result:.2f} 倍",
    ),
    ArticleClaim(
        "generators", "Python异步编程",
        "Python对协程的支持通过 生成器（generator）实现",
        facts=("asyncio_generators",),
        figure="本次运行的 {ag_python}：asyncio 的协程{ag_kind}",
        rule=OUTDATED,
        note="Python 3.5 起有原生协程，基于生成器的 `@asyncio.coroutine` 在 3.11 已被移除；"
             "不过纯生成器仍然可以写协程，见下一条的生成器爬虫",
    ),
    ArticleClaim(
        "yield-gevent-asyncio", "Python异步编程",
        "`yield` 提供对协程的基本支持；`gevent` 第三方库提供对Python2&3完善的协程支持；Python3.4引入 `asyncio`，提供内置的异步IO支持",
        facts=("generator_crawl",),
        charts=(CRAWL_CHART + "pages_per_s.png",),
        figure="生成器、gevent、asyncio 三种协程爬虫在每个并发数下都爬到同一组页面（摘要相同）；"
               "最快分别为 {gc_best:,.0f}、{gc_gevent:,.0f}、{gc_asyncio:,.0f} 页/秒",
        note="只测了 Python 3；Python 2 未测试",
    ),
)  # fmt: skip

#: sentences of the article left out of the page, and why
NOT_CLAIMS: tuple[tuple[str, str], ...] = (
    (
        "常见的大部分任务都是IO密集型任务，如Web应用，最合适的语言就是开发效率最高（代码量最少）的语言，脚本语言是首选",
        "观点，无法测量",
    ),
)
