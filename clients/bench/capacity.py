"""What a capacity planner reads off a rate curve and a slow-client sweep (pure: figures in, figures out).

A rate curve is a model's open-loop runs at fixed offered rates (``rate-sweep``), each
point's latencies measured from when each request should have gone out (corrected for
coordinated omission). From it:

* the **knee**: the highest offered rate up to which p99 stays within :data:`KNEE_FACTOR`
  times its p99 at the lowest rate;
* the **SLO rate**: the highest offered rate up to which p99 stays at or under
  :data:`SLO_P99_MS`.

Both read the curve from its lowest rate upwards and stop at the first point that fails:
a rate counts only if every lower one held too (a lucky point past a failure is noise,
not capacity). A point also fails when the server did not carry its load (achieved under
:data:`CARRIED` of offered): requests never answered are never timed, so its p99 alone
would flatter it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

#: The knee: p99 within this many times its p99 at the lowest offered rate.
KNEE_FACTOR = 10.0
#: The service-level objective a rate must meet: p99 at or under this many ms.
SLO_P99_MS = 10.0
#: A point carried its load when it achieved at least this share of the offered rate.
CARRIED = 0.9
#: Offered rates of ``rate-sweep``, as shares of the closed-loop capacity.
RATE_SHARES = (0.1, 0.25, 0.4, 0.55, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2)
RATE_SHARES_QUICK = (0.1, 0.4, 0.7, 0.9, 1.0, 1.2)


@dataclass(frozen=True, slots=True)
class RatePoint:
    """One open-loop run: offered and achieved req/s, latencies in ms (None: nothing answered)."""

    offered: float
    achieved: float
    p99_ms: float | None


def offered_rates(capacity_rps: float, shares: Sequence[float] = RATE_SHARES) -> tuple[float, ...]:
    """The offered rates of a sweep: ``shares`` of ``capacity_rps``, whole req/s, at least 1."""
    if capacity_rps <= 0:
        raise ValueError(f"capacity must be positive, not {capacity_rps}")
    return tuple(max(1.0, float(round(capacity_rps * share))) for share in shares)


def carried(point: RatePoint) -> bool:
    """The server answered at least :data:`CARRIED` of the offered rate."""
    return point.achieved >= CARRIED * point.offered


def _highest_holding(
    points: Sequence[RatePoint], holds: Callable[[RatePoint], bool]
) -> RatePoint | None:
    """The highest-rate point before the first (by offered rate) that fails ``holds``."""
    best = None
    for point in sorted(points, key=lambda p: p.offered):
        if point.p99_ms is None or not carried(point) or not holds(point):
            break
        best = point
    return best


def knee(points: Sequence[RatePoint], factor: float = KNEE_FACTOR) -> RatePoint | None:
    """The highest offered rate whose p99 (and every lower rate's) stays within ``factor`` x
    the p99 at the lowest rate; None when even the lowest rate was not carried."""
    ordered = sorted(points, key=lambda p: p.offered)
    if not ordered or ordered[0].p99_ms is None:
        return None
    limit = factor * ordered[0].p99_ms
    return _highest_holding(ordered, lambda p: p.p99_ms is not None and p.p99_ms <= limit)


def slo_rate(points: Sequence[RatePoint], p99_ms: float = SLO_P99_MS) -> RatePoint | None:
    """The highest offered rate whose p99 (and every lower rate's) is at most ``p99_ms``."""
    return _highest_holding(points, lambda p: p.p99_ms is not None and p.p99_ms <= p99_ms)


def relative_to_none(figures: Mapping[int, float | None]) -> dict[int, float | None]:
    """Each count's figure as a share of the figure at 0 (slow clients): 1.0 means untouched."""
    base = figures.get(0)
    return {
        count: (value / base if base and value is not None else None)
        for count, value in sorted(figures.items())
    }
