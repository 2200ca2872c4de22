"""A deterministic sweep validation report for the fake services: the shape summarize writes, made from
the fake metrics of the points done (no statistics: the real ones are the framework's, tested there)."""

from __future__ import annotations

import math

from airflow_backtest_framework.config import SweepConfig
from airflow_backtest_framework.validation_report import (
    DeflatedSharpe,
    Overfitting,
    ParameterImportance,
    Robustness,
    SegmentComparison,
    ValidationReport,
    ValidationScheme,
)

BARS_PER_YEAR = 252.0
PER_BAR = 1 / math.sqrt(BARS_PER_YEAR)  # the report's Sharpe ratios are per bar
BLOCKS = 16
COMBINATIONS = 12_870  # C(16, 8)
LOGITS_KEPT = 400  # the fake draws fewer logits than the combinations: the histogram's shape is the point
MIN_POINTS = 4
SCHEME = ValidationScheme(
    kind="holdout",
    segments=[
        {"name": "in_sample", "start": "2015-01-02", "end": "2021-12-31"},
        {"name": "out_of_sample", "start": "2022-01-03", "end": "2024-12-31"},
    ],
)


def fake_in_sample(index: int) -> float:
    return round(1.5 * math.sin(index * 0.37) + 0.4, 3) * PER_BAR


def fake_out_of_sample(index: int) -> float:
    """Half the in-sample edge plus a wobble: an in-sample best that is mediocre out of sample."""
    return (0.5 * (1.5 * math.sin(index * 0.37) + 0.4) + 0.6 * math.cos(index * 1.3)) * PER_BAR


def _smoothed(done: list[int]) -> list[float]:
    """The in-sample metric averaged with the done points one index away (a stand-in for grid neighbours)."""
    present = set(done)
    out = []
    for index in done:
        near = [i for i in (index - 1, index, index + 1) if i in present]
        out.append(sum(fake_in_sample(i) for i in near) / len(near))
    return out


def _rank_correlation(a: list[float], b: list[float]) -> float:
    def ranks(values: list[float]) -> list[int]:
        order = sorted(range(len(values)), key=values.__getitem__)
        result = [0] * len(values)
        for rank, i in enumerate(order):
            result[i] = rank
        return result

    ra, rb = ranks(a), ranks(b)
    n = len(a)
    return 1 - 6 * sum((x - y) ** 2 for x, y in zip(ra, rb, strict=True)) / (n * (n * n - 1))


def fake_report(config: SweepConfig, done: list[int], final: bool) -> ValidationReport:
    """The report of `done` points of `config` (`final`: the run is over)."""
    base = {"final": final, "points_done": len(done), "points_total": config.grid_size}
    base |= {"bars_per_year": BARS_PER_YEAR, "scheme": SCHEME}
    if len(done) < MIN_POINTS:
        return ValidationReport(**base, notes=[f"{len(done)} points done: the statistics need {MIN_POINTS}."])
    in_sample = [fake_in_sample(i) for i in done]
    out_of_sample = [fake_out_of_sample(i) for i in done]
    best = done[max(range(len(done)), key=in_sample.__getitem__)]
    oos_rank = sorted(out_of_sample).index(fake_out_of_sample(best))
    smoothed = _smoothed(done)
    params = list(config.strategy_spec.param_names)
    weights = [1.0 / (k + 1) for k in range(len(params))]
    return ValidationReport(
        **base,
        deflated_sharpe=DeflatedSharpe(
            point=best,
            sharpe=fake_in_sample(best),
            sharpe_annualised=fake_in_sample(best) / PER_BAR,
            trials=len(done),
            sharpe_variance=0.0025,
            expected_max_sharpe=0.11,
            skewness=-0.2,
            kurtosis=4.1,
            observations=1762,
            psr=0.93,
            dsr=0.39,
        ),
        overfitting=Overfitting(
            pbo=0.81,
            blocks=BLOCKS,
            combinations=COMBINATIONS,
            logits=[round(1.2 * math.sin(k * 0.7) - 0.6, 4) for k in range(LOGITS_KEPT)],
        ),
        segments=SegmentComparison(
            points=done,
            in_sample=in_sample,
            out_of_sample=out_of_sample,
            rank_correlation=_rank_correlation(in_sample, out_of_sample),
            best_in_sample_point=best,
            best_in_sample_oos_percentile=(oos_rank + 1) / len(done),
        ),
        robustness=Robustness(
            points=done,
            smoothed=smoothed,
            best_point=done[max(range(len(done)), key=smoothed.__getitem__)],
            best_raw_point=best,
            neighbourhood="the point and the points one index away (the fake's stand-in for grid neighbours)",
        ),
        importance=ParameterImportance(
            method="main-effect sum of squares (one-way ANOVA per parameter) over total",
            shares={
                name: round(w / (sum(weights) * 1.25), 4) for name, w in zip(params, weights, strict=True)
            },
        ),
    )
