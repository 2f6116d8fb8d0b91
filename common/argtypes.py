"""argparse value types shared by the sub-commands: clear messages that say the fix."""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any


def int_range(low: int, high: int | None = None) -> Callable[[str], int]:
    """An integer in ``[low, high]`` (no upper bound when ``high`` is None)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < low or (high is not None and value > high):
            bound = f"from {low} to {high}" if high is not None else f"at least {low}"
            raise argparse.ArgumentTypeError(f"{value} is out of range: use an integer {bound}")
        return value

    return parse


def seconds(text: str) -> float:
    """A duration in seconds, in (0, 3600]."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 < value <= 3600:
        raise argparse.ArgumentTypeError(f"{value} is out of range: use seconds in (0, 3600]")
    return value


def _unknown(what: str, text: str, choices: Sequence[str]) -> argparse.ArgumentTypeError:
    return argparse.ArgumentTypeError(f"unknown {what} {text!r}; choose from: {', '.join(choices)}")


def one_of(choices: Iterable[str], what: str) -> Callable[[str], str]:
    """One name out of ``choices``; a wrong one is named, with the choices, in one line.

    Args:
        choices: the valid names, in the order the message lists them.
        what: what a name is ("model", "crawler"), for the message.
    """
    names = list(choices)

    def parse(text: str) -> str:
        if text not in names:
            raise _unknown(what, text, names)
        return text

    return parse


def names_of(choices: Iterable[str], what: str) -> Callable[[str], list[str]]:
    """Several names out of ``choices`` in one argument, separated by commas or spaces.

    ``"fork thread"``, ``"fork,thread"`` and ``"fork, thread"`` all give
    ``["fork", "thread"]``: the Makefile's ``MODELS=`` may be written either way.
    """
    names = list(choices)

    def parse(text: str) -> list[str]:
        found = [name for name in re.split(r"[\s,]+", text) if name]
        if not found:
            raise argparse.ArgumentTypeError(f"no {what} named; choose from: {', '.join(names)}")
        for name in found:
            if name not in names:
                raise _unknown(what, name, names)
        return found

    return parse


class JoinLists(argparse.Action):
    """Store the items of every value given (each a list, as :func:`names_of` makes), once each, in order."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        joined = [name for chunk in values for name in chunk]
        setattr(namespace, self.dest, list(dict.fromkeys(joined)))


def add_names_argument(
    parser: argparse.ArgumentParser | Any,
    flag: str,
    choices: Iterable[str],
    what: str,
    *,
    default: Sequence[str] | None = None,
    help: str = "",
) -> None:
    """Add ``flag`` taking several names of ``choices``, in any of the accepted spellings.

    ``--models fork thread``, ``--models "fork thread"`` and ``--models fork,thread``
    are the same; an unknown name is refused in one line that lists the choices.
    The default (all the choices unless given) is stored as a list too.
    """
    names = list(choices)
    chosen = list(default) if default is not None else names
    parser.add_argument(
        flag,
        nargs="+",
        type=names_of(names, what),
        action=JoinLists,
        default=chosen,
        metavar=what.upper(),
        help=f"{help} (separated by spaces or commas; default: {' '.join(chosen)})".lstrip(),
    )
