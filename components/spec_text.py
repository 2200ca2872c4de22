"""A spec's execution, cost and validation settings in words, as Configure and the spec summaries say them."""

from __future__ import annotations

from airflow_backtest_framework.config import SweepConfig
from airflow_backtest_framework.execution_spec import (
    BENCHMARK_UNIVERSE,
    FILL_NEXT_CLOSE,
    FILL_NEXT_OPEN,
    FILL_SAME_CLOSE,
)
from airflow_backtest_framework.validation_spec import SCHEME_HOLDOUT, SCHEME_WALK_FORWARD

FILL_LABELS = {
    FILL_NEXT_OPEN: "next bar's open",
    FILL_NEXT_CLOSE: "next bar's close",
    FILL_SAME_CLOSE: "same close — optimistic (look-ahead)",
}


def fill_text(config: SweepConfig) -> str:
    return FILL_LABELS.get(config.fill, config.fill)


def costs_text(config: SweepConfig) -> str:
    """`commission 5 bps/side · slippage 0 bps/side · borrow 0 bps/yr · risk-free 0 %`."""
    return (
        f"commission {config.commission_bps:g} bps/side · slippage {config.slippage_bps:g} bps/side · "
        f"borrow {config.borrow_bps:g} bps/yr · risk-free {config.risk_free_rate * 100:g} %"
    )


def benchmark_text(config: SweepConfig) -> str:
    return "equal-weighted universe" if config.benchmark == BENCHMARK_UNIVERSE else config.benchmark


def lags_text(config: SweepConfig) -> str:
    """Each chosen factor's publication lag (0 unless set), or `none` without factors."""
    lags = [f"{name} {config.factor_lags.get(name, 0)}" for name in config.factors]
    return (", ".join(lags) + " bars") if lags else "none"


def validation_text(config: SweepConfig) -> str:
    """`holdout, last 30 % out of sample · PBO 16 blocks`, `walk-forward, 4 anchored folds · …`."""
    spec = config.validation
    if spec.scheme == SCHEME_HOLDOUT:
        scheme = f"holdout, last {spec.out_of_sample * 100:g} % out of sample"
    elif spec.scheme == SCHEME_WALK_FORWARD:
        scheme = f"walk-forward, {spec.folds} folds, {spec.windows} windows"
    else:
        scheme = "none (full period only)"
    return f"{scheme} · PBO {spec.pbo_blocks} blocks"
