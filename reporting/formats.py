"""Numbers as every report prints them; ``None`` and NaN print as ``-``."""

from __future__ import annotations

import math
from typing import Any

#: Latency percentiles in display order: (key in the data, label).
PERCENTILES: tuple[tuple[str, str], ...] = (
    ("p50", "p50"),
    ("p90", "p90"),
    ("p99", "p99"),
    ("p999", "p99.9"),
    ("max", "max"),
)

#: The sign of a floor: a figure the load client limited, the server may do more.
FLOOR = "≥"


def missing(value: Any) -> bool:
    """True for ``None`` and for a float that is not finite."""
    return value is None or (isinstance(value, float) and not math.isfinite(value))


def fmt_num(value: float | None, digits: int = 0) -> str:
    """``12345.6`` -> ``"12,346"``; ``digits`` decimals."""
    if value is None or missing(value):
        return "-"
    return f"{value:,.{digits}f}"


def fmt_ms(value: float | None) -> str:
    """A latency in milliseconds with 3 significant figures (``0.0421``, ``1.23``, ``512``)."""
    if value is None or missing(value):
        return "-"
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    if value >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}"


def fmt_ratio(value: float | None) -> str:
    """``1.634`` -> ``"1.63x"``."""
    return "-" if value is None or missing(value) else f"{value:.2f}x"


def fmt_pct(value: float | None) -> str:
    """A fraction as a percentage: ``0.953`` -> ``"95.3%"``."""
    return "-" if value is None or missing(value) else f"{100 * value:.1f}%"


def fmt_floor(value: float | None, floor: bool, digits: int = 0) -> str:
    """A throughput, marked as a floor when the load client was the limit: ``">= 116,557"``."""
    text = fmt_num(value, digits)
    return f">= {text}" if floor and text != "-" else text
