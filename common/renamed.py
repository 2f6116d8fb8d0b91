"""Flags that were renamed: the old spelling is refused in one line naming the new one."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any


class _Renamed(argparse.Action):
    """Refuses the old flag with the new flag's name (exit 2, argparse's usage error)."""

    def __init__(self, option_strings: Sequence[str], dest: str, new: str, **_: Any) -> None:
        super().__init__(option_strings, argparse.SUPPRESS, nargs="?", help=argparse.SUPPRESS)
        self.new = new

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        parser.error(f"{option_string} is now {self.new}")


def add_renamed(parser: argparse.ArgumentParser, old: str, new: str) -> None:
    """Make ``old`` (hidden from ``--help``) fail with "``old`` is now ``new``"."""
    parser.add_argument(old, action=_Renamed, new=new, default=argparse.SUPPRESS)
