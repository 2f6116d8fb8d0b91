"""The ``iomodels`` command line: one sub-command per job.

Each sub-command lives in its own module exposing ``configure(parser)`` and
``run(args) -> int``; those modules keep heavy imports inside ``run`` so that
``iomodels serve`` never loads what the benchmark or Locust need.
"""

from __future__ import annotations

import argparse
import importlib
import sys

#: sub-command -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "serve": ("servers.cli", "run one server of a chosen IO model"),
    "models": ("servers.cli_models", "list the IO models"),
    "bench": (
        "clients.bench.cli",
        "benchmark every model x workload: report.md, results.json/csv, charts",
    ),
    "load": ("clients.loadgen.cli", "run our load client against one server (closed or open loop)"),
    "crawl": ("clients.crawl.cli", "crawl a site with one of the crawlers"),
    "locust": ("loadtests.cli_locust", "start a server and Locust's web UI aimed at it"),
    "loadtest": ("loadtests.cli_loadtest", "one headless Locust run against a fresh server"),
    "compare": ("loadtests.cli_compare", "the same Locust scenario against each model, one report"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="iomodels",
        description="Equivalent servers, one per IO model, and the tools to compare them.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (module, help_text) in COMMANDS.items():
        sub_parser = sub.add_parser(name, help=help_text, description=help_text)
        importlib.import_module(module).configure(sub_parser)
        sub_parser.set_defaults(_module=module)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(importlib.import_module(args._module).run(args) or 0)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
