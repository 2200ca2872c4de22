"""Pure pandas over a results table: metric grids for heatmaps, the best points, exports."""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Literal

import pandas as pd

Aggregate = Literal["best", "mean"]
AGGREGATES: tuple[Aggregate, ...] = ("best", "mean")
# Metrics where a smaller value is better; every other metric is ranked largest first.
# (max_drawdown is a negative fraction, so larger — closer to zero — is better.)
LOWER_IS_BETTER = frozenset({"annual_volatility", "turnover", "max_drawdown_days"})


def _filtered(table: pd.DataFrame, fixed: Mapping[str, object] | None) -> pd.DataFrame:
    """The rows whose parameters equal `fixed` (values compared as numbers when they can be)."""
    if not fixed:
        return table
    mask = pd.Series(True, index=table.index)
    for param, value in fixed.items():
        if value is None or param not in table.columns:
            continue
        column = table[param]
        try:
            mask &= (column.astype(float) - float(value)).abs() < 1e-9
        except (TypeError, ValueError):
            mask &= column.astype(str) == str(value)
    return table[mask]


def aggregate_function(aggregate: Aggregate, metric: str) -> str:
    """The pandas aggregation of `aggregate` for `metric`: best is the max, the min where lower is better."""
    if aggregate not in AGGREGATES:
        raise ValueError(f"aggregate must be one of {', '.join(AGGREGATES)}, not {aggregate!r}")
    if aggregate == "best":
        return "max" if best_first(metric) else "min"
    return aggregate


def aggregate_label(aggregate: Aggregate, metric: str) -> str:
    """`best (max)`, `best (min)` or `mean`: what a heatmap cell holds, in words."""
    how = aggregate_function(aggregate, metric)
    return f"{aggregate} ({how})" if aggregate == "best" else aggregate


def metric_grid(
    table: pd.DataFrame,
    x: str,
    y: str,
    metric: str,
    aggregate: Aggregate = "best",
    fixed: Mapping[str, object] | None = None,
) -> pd.DataFrame:
    """The metric per (y, x) cell, rows = y values, columns = x values, both sorted.

    Points are first narrowed to `fixed` parameter values; the remaining parameters are
    aggregated per cell by `aggregate`: best (the max, the min for LOWER_IS_BETTER metrics) or
    mean. A cell with no point is NaN.
    """
    how = aggregate_function(aggregate, metric)
    rows = _filtered(table, {k: v for k, v in (fixed or {}).items() if k not in (x, y)})
    if rows.empty or metric not in rows.columns:
        return pd.DataFrame(dtype=float)
    if x == y:  # one axis: a single row of the metric per value
        grid = rows.groupby(x)[metric].agg(how).sort_index().to_frame(metric).T
        grid.columns.name = x
        return grid
    grid = rows.pivot_table(index=y, columns=x, values=metric, aggfunc=how, dropna=False)
    return grid.sort_index(axis=0).sort_index(axis=1)


def best_first(metric: str) -> bool:
    """Whether the best points of `metric` are its largest values."""
    return metric not in LOWER_IS_BETTER


def top_n(table: pd.DataFrame, metric: str, n: int = 10) -> pd.DataFrame:
    """The `n` best points by `metric` (NaN last), every column kept."""
    if table.empty or metric not in table.columns:
        return table.head(0)
    ranked = table.sort_values(metric, ascending=not best_first(metric), na_position="last", kind="stable")
    return ranked.head(n).reset_index(drop=True)


def to_csv_bytes(table: pd.DataFrame) -> bytes:
    """The table as UTF-8 CSV, no index column."""
    return table.to_csv(index=False).encode("utf-8")


def to_parquet_bytes(table: pd.DataFrame) -> bytes:
    """The table as Parquet (pyarrow), no index column."""
    buffer = io.BytesIO()
    table.to_parquet(buffer, index=False, engine="pyarrow")
    return buffer.getvalue()
