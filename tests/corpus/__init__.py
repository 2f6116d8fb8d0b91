"""The bad-request corpus and its loader (format: see README.md next to this file)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).parent / "bad_requests"
_TEMPLATE = re.compile(rb"\{\{(.+?)\*(\d+)\}\}", re.DOTALL)


@dataclass(frozen=True)
class Case:
    """One corpus file: the bytes to send and the status to expect."""

    category: str
    name: str
    expect: int
    why: str
    payload: bytes
    eof: bool = False
    keep_alive: bool = False  # the connection must stay open after the answer

    @property
    def id(self) -> str:
        return f"{self.category}/{self.name}"


def expand(raw: bytes) -> bytes:
    """Expand every ``{{TEXT*N}}`` into ``TEXT`` repeated ``N`` times."""
    return _TEMPLATE.sub(lambda m: m.group(1) * int(m.group(2)), raw)


def parse_case(path: Path) -> Case:
    """Read one ``.http`` file."""
    data = path.read_bytes()
    head, sep, raw = data.partition(b"\n--\n")
    if not sep:
        raise ValueError(f"{path}: no '--' separator line")
    fields: dict[str, str] = {}
    for line in head.decode().splitlines():
        key, _, value = line.partition(":")
        fields[key.strip()] = value.strip()
    return Case(
        category=path.parent.name,
        name=path.stem,
        expect=int(fields["expect"]),
        why=fields["why"],
        payload=expand(raw),
        eof=fields.get("then") == "eof",
        keep_alive=_connection(path, fields.get("connection", "close")),
    )


def _connection(path: Path, value: str) -> bool:
    if value not in ("close", "keep-alive"):
        raise ValueError(f"{path}: connection must be close or keep-alive, not {value!r}")
    return value == "keep-alive"


def load_cases() -> list[Case]:
    """Every case in the corpus, sorted by category then name."""
    return [parse_case(p) for p in sorted(ROOT.glob("*/*.http"))]
