"""The ``iomodels`` command line: one sub-command per job.

Each sub-command lives in its own module exposing ``configure(parser)`` and
``run(args) -> int``. Only the chosen sub-command's module is imported, and
only its parser is built: ``iomodels serve`` loads nothing of the benchmark,
the load client or Locust. The top-level ``--help`` lists every command from
:data:`COMMANDS` without importing any of them.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
from typing import Any

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
    "crawl-bench": (
        "clients.crawl.bench",
        "every crawler at several concurrencies against one site: report and chart",
    ),
    "soak": ("clients.soak", "a bounded mixed load per model, then a leak check"),
}

#: sub-command -> the optional package it cannot run without (the gil extra: see pyproject.toml)
NEEDS = {"locust": "locust", "loadtest": "locust", "compare": "locust"}

DESCRIPTION = "Equivalent servers, one per IO model, and the tools to compare them."


class DefaultsShown(argparse.HelpFormatter):
    """Every option's ``--help`` line states its default: added where its text does not."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if not action.option_strings or "default" in text or text == argparse.SUPPRESS:
            return action.help
        if isinstance(action, argparse._HelpAction | argparse._VersionAction):
            return action.help
        value = action.default
        if value is False:
            shown = "off"
        elif value in (None, "", []):
            shown = "none"
        else:
            shown = "%(default)s"
        return f"{text} (default: {shown})"


def top_parser() -> argparse.ArgumentParser:
    """The ``iomodels`` parser: the list of commands for ``--help`` and for a wrong command name."""
    parser = argparse.ArgumentParser(prog="iomodels", description=DESCRIPTION)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (_, help_text) in COMMANDS.items():
        sub.add_parser(name, help=help_text, add_help=False)
    return parser


def command_parser(name: str) -> argparse.ArgumentParser:
    """The parser of one sub-command (its module is imported, and no other)."""
    module, help_text = COMMANDS[name]
    parser = argparse.ArgumentParser(prog=f"iomodels {name}", description=help_text)
    importlib.import_module(module).configure(parser)
    # kept as the command chose it (raw epilogs), with every default shown
    chosen: Any = parser.formatter_class
    parser.formatter_class = type("Formatter", (DefaultsShown, chosen), {})  # type: ignore[assignment]
    parser.set_defaults(command=name, _module=module)
    return parser


def parse_args(argv: list[str]) -> argparse.Namespace:
    """The arguments of ``iomodels COMMAND ...``; a wrong command or flag exits 2 with the right usage."""
    if not argv or argv[0] not in COMMANDS:
        # exits on --help, on a missing command and on an unknown one (naming the choices)
        found, rest = top_parser().parse_known_args(argv)
        argv = [found.command, *rest]
    return command_parser(argv[0]).parse_args(argv[1:])


def main(argv: list[str] | None = None) -> int:
    """Run one command; its exit status (2 for a usage mistake, 130 after Ctrl-C)."""
    args = parse_args(sys.argv[1:] if argv is None else list(argv))
    needs = NEEDS.get(args.command)
    if needs and importlib.util.find_spec(needs) is None:
        print(
            f"iomodels {args.command}: error: {needs} is not installed here "
            "(the gil extra: `make venv` installs it, except on a free-threaded Python, "
            "where it cannot build)",
            file=sys.stderr,
        )
        return 2
    try:
        return int(importlib.import_module(args._module).run(args) or 0)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        from servers.launcher import ServerStartError

        if not isinstance(exc, ServerStartError):
            raise
        # the server's own one-line error, not a traceback; exit 2 if it refused its arguments
        reason = exc.reason.removeprefix("iomodels serve: error: ")
        print(
            f"iomodels {args.command}: error: the server did not start: {reason}", file=sys.stderr
        )
        return 2 if exc.exit_code == 2 else 1


if __name__ == "__main__":
    sys.exit(main())
