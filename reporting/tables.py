"""Tables for reports: GitHub markdown for report.md, rich for the terminal; references marked."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from reporting.styles import is_reference


def label(name: str, markdown: bool = True) -> str:
    """A row label that marks references: ``ref-bare`` -> ``*ref-bare* (ref)``."""
    if not is_reference(name):
        return name
    return f"*{name}* (ref)" if markdown else f"{name} (ref)"


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], align: str = "") -> str:
    """A GitHub markdown table.

    Args:
        headers: column titles.
        rows: cells (converted with ``str``; ``None`` becomes ``-``).
        align: one letter per column, ``l``/``r``/``c`` (default: first column left, rest right).
    """
    align = align or ("l" + "r" * (len(headers) - 1))
    marks = {"l": "---", "r": "---:", "c": ":---:"}

    def cell(value: Any) -> str:
        return "-" if value is None else str(value).replace("|", "\\|")

    lines = [
        "| " + " | ".join(cell(h) for h in headers) + " |",
        "| " + " | ".join(marks.get(a, "---") for a in align.ljust(len(headers), "r")) + " |",
    ]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def rich_table(
    title: str, headers: Sequence[str], rows: Sequence[Sequence[Any]], align: str = ""
) -> Any:
    """The same table as a :class:`rich.table.Table` for the terminal (references dimmed)."""
    from rich.table import Table

    align = align or ("l" + "r" * (len(headers) - 1))
    justify = {"l": "left", "r": "right", "c": "center"}
    table = Table(title=title, title_justify="left")
    for index, header in enumerate(headers):
        table.add_column(header, justify=justify.get(align[index : index + 1], "right"))  # type: ignore[arg-type]
    for row in rows:
        first = str(row[0]) if row else ""
        style = "dim" if is_reference(first.strip("*").split(" ")[0]) else None
        table.add_row(*("-" if v is None else str(v) for v in row), style=style)
    return table
