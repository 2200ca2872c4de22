"""Execution and cost settings of a sweep (fills, commission, slippage, borrow, risk-free rate, benchmark)."""

from __future__ import annotations

import math
from collections.abc import Sequence

# Execution and costs (the engine reads them from the spec; README "Model" explains each).
FILL_NEXT_OPEN = "next_open"  # an order decided at a close fills at the next bar's open
FILL_NEXT_CLOSE = "next_close"  # ... at the next bar's close
FILL_SAME_CLOSE = "same_close"  # ... at the close it was decided on: optimistic, flagged in results
FILLS = (FILL_NEXT_OPEN, FILL_NEXT_CLOSE, FILL_SAME_CLOSE)
MAX_COST_BPS = 1_000.0  # 10 % per side: far above any real commission or slippage
MAX_BORROW_BPS = 10_000.0  # 100 % a year
RISK_FREE_RANGE = (-0.05, 0.25)  # annual rate, as a fraction
BENCHMARK_UNIVERSE = "universe"  # the equal-weighted universe, rebalanced every bar
MAX_FACTOR_LAG_BARS = 365


def check_fill(value: str) -> str:
    if value not in FILLS:
        raise ValueError(f"unknown fill '{value[:40]}'; choose one of: {', '.join(FILLS)}")
    return value


def check_bps(field: str, value: float) -> float:
    limit = MAX_BORROW_BPS if field == "borrow_bps" else MAX_COST_BPS
    if not math.isfinite(value) or not 0 <= value <= limit:
        raise ValueError(f"must be between 0 and {limit:,g} bps (got {value:g})")
    return value


def check_risk_free_rate(value: float) -> float:
    low, high = RISK_FREE_RANGE
    if not math.isfinite(value) or not low <= value <= high:
        raise ValueError(f"must be an annual rate between {low:g} and {high:g}, e.g. 0.02 for 2 %")
    return value


def check_execution_field(field: str, value: object) -> object:
    """Check `fill`, a cost in bps or `risk_free_rate`; ValueError says what is wrong."""
    if field == "fill":
        return check_fill(str(value))
    if field == "risk_free_rate":
        return check_risk_free_rate(float(value))  # type: ignore[arg-type]
    return check_bps(field, float(value))  # type: ignore[arg-type]


def check_benchmark(value: str, universe: Sequence[str] | None) -> str:
    """'universe' (the equal-weighted universe) or one of the universe's symbols."""
    value = BENCHMARK_UNIVERSE if value.lower() == BENCHMARK_UNIVERSE else value.upper()
    if value != BENCHMARK_UNIVERSE and universe is not None and value not in universe:
        raise ValueError(
            f"'{value[:40]}' is not in the universe; use one of its symbols or '{BENCHMARK_UNIVERSE}'"
        )
    return value


def check_factor_lags(value: dict[str, int], factors: Sequence[str] | None) -> dict[str, int]:
    """Each key one of the sweep's factors, each lag 0 to MAX_FACTOR_LAG_BARS bars."""
    for name, lag in value.items():
        if factors is not None and name not in factors:
            raise ValueError(f"'{name[:40]}' is not one of the sweep's factors")
        if not 0 <= lag <= MAX_FACTOR_LAG_BARS:
            raise ValueError(f"{name[:40]}: a lag of 0 to {MAX_FACTOR_LAG_BARS} bars (got {lag})")
    return value
