"""Which two parameters a grid heatmap puts on its axes (Monitor coverage and Results metrics)."""

from __future__ import annotations

from airflow_backtest_framework.config import SweepConfig


def axis_choices(config: SweepConfig) -> tuple[list[dict], str, str]:
    """The axis options, and the two parameters with the most values as x and y."""
    names = list(config.strategy_spec.param_names)
    ranked = sorted(names, key=lambda n: -len(config.values(n)))
    options = [{"label": f"{n} · {len(config.values(n))}", "value": n} for n in names]
    return options, ranked[0], ranked[1] if len(ranked) > 1 else ranked[0]
