"""The knee, the SLO rate and the slow-client shares, from tables of rate curves."""

from __future__ import annotations

import pytest

from clients.bench.capacity import (
    RATE_SHARES,
    RatePoint,
    knee,
    offered_rates,
    relative_to_none,
    slo_rate,
)


def curve(*rows: tuple[float, float, float | None]) -> list[RatePoint]:
    return [RatePoint(offered, achieved, p99) for offered, achieved, p99 in rows]


HOCKEY_STICK = curve(
    (100, 100, 0.5), (400, 400, 0.8), (700, 700, 2.0), (900, 890, 4.9), (1000, 950, 40.0),
    (1200, 960, 900.0),
)  # fmt: skip

#: (name, curve, knee's offered rate, SLO rate's offered rate)
CASES = [
    ("hockey stick", HOCKEY_STICK, 900, 900),
    ("in any order", list(reversed(HOCKEY_STICK)), 900, 900),
    ("knee on the relative rule, SLO on the absolute one",
     curve((100, 100, 2.0), (500, 500, 8.0), (800, 800, 15.0), (1000, 1000, 20.0), (1100, 1100, 21.0)), 1000, 500),
    ("a slow server: knee but no SLO rate",
     curve((10, 10, 50.0), (20, 20, 60.0), (40, 40, 600.0)), 20, None),
    ("a lucky point past the first failure does not count",
     curve((100, 100, 1.0), (200, 200, 20.0), (300, 300, 1.5)), 100, 100),
    ("a point not carried fails, however good its p99",
     curve((100, 100, 1.0), (200, 150, 1.0), (300, 300, 1.0)), 100, 100),
    ("exactly 10x and exactly 10 ms still hold",
     curve((100, 100, 1.0), (200, 200, 10.0)), 200, 200),
    ("nothing answered at the lowest rate", curve((100, 0, None), (200, 200, 1.0)), None, None),
    ("an empty curve", [], None, None),
]  # fmt: skip


@pytest.mark.parametrize("name, points, knee_at, slo_at", CASES, ids=[c[0] for c in CASES])
def test_knee_and_slo_rate(
    name: str, points: list[RatePoint], knee_at: float | None, slo_at: float | None
) -> None:
    found_knee, found_slo = knee(points), slo_rate(points)
    assert (found_knee.offered if found_knee else None) == knee_at
    assert (found_slo.offered if found_slo else None) == slo_at


def test_offered_rates_span_a_tenth_to_more_than_capacity() -> None:
    rates = offered_rates(5000)
    assert len(rates) >= 8 and rates == tuple(sorted(rates))
    assert rates[0] == 500 and rates[-1] == 6000 and 5000 in rates
    assert offered_rates(3, (0.1, 1.0)) == (1.0, 3.0)  # never below 1 req/s
    assert len(RATE_SHARES) >= 8


@pytest.mark.parametrize("capacity", [0, -5])
def test_offered_rates_need_a_capacity(capacity: float) -> None:
    with pytest.raises(ValueError, match="capacity"):
        offered_rates(capacity)


@pytest.mark.parametrize(
    "figures, expected",
    [
        ({0: 1000.0, 10: 900.0, 100: 0.0}, {0: 1.0, 10: 0.9, 100: 0.0}),
        ({100: 5.0, 0: 10.0}, {0: 1.0, 100: 0.5}),
        ({0: 0.0, 10: 5.0}, {0: None, 10: None}),  # nothing to compare with
        ({0: 10.0, 10: None}, {0: 1.0, 10: None}),
        ({10: 5.0}, {10: None}),
    ],
)
def test_relative_to_none(
    figures: dict[int, float | None], expected: dict[int, float | None]
) -> None:
    assert relative_to_none(figures) == pytest.approx(expected)
