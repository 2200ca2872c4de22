"""The validation panel's figure builders, asserted on their data, and the table's validation columns."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from airflow_backtest_framework.validation_report import (
    Overfitting,
    ParameterImportance,
    Robustness,
    SegmentComparison,
    ValidationReport,
    ValidationScheme,
)
from components.figures_results import results_heatmap
from components.figures_validation import VALIDATION_COLORS, importance_bars, is_oos_scatter, pbo_histogram
from services.results_analysis import metric_grid
from services.validation_export import with_validation

BARS = 252.0


def report(**blocks) -> ValidationReport:
    return ValidationReport(
        final=True,
        points_done=4,
        points_total=4,
        bars_per_year=BARS,
        scheme=ValidationScheme(kind="holdout"),
        **blocks,
    )


@pytest.fixture
def table() -> pd.DataFrame:
    return pd.DataFrame(
        {"index": [0, 1, 2, 3], "a": [1, 1, 2, 2], "b": [5, 6, 5, 6], "sharpe": [0.5, 1.5, 1.0, -0.2]}
    )


def segments() -> SegmentComparison:
    return SegmentComparison(
        points=[0, 1, 2, 3],
        in_sample=[0.03, 0.09, 0.06, -0.01],
        out_of_sample=[0.02, -0.01, 0.05, 0.0],
        rank_correlation=0.2,
        best_in_sample_point=1,
        best_in_sample_oos_percentile=0.25,
    )


def robustness() -> Robustness:
    return Robustness(
        points=[3, 1, 0], smoothed=[0.0, 0.04, 0.05], best_point=0, best_raw_point=1, neighbourhood="one step"
    )


def test_scatter_draws_every_point_and_stars_the_in_sample_and_robust_best(table) -> None:
    joined = with_validation(table, report(segments=segments(), robustness=robustness()))
    fig = is_oos_scatter(joined, "sharpe", best_in_sample=1, robust_best=0)
    diagonal, points, in_best, robust = fig.data
    assert list(points.customdata) == [0, 1, 2, 3]
    assert list(points.x) == pytest.approx(joined["sharpe_in_sample"].tolist())
    assert list(points.y) == pytest.approx(joined["sharpe_out_of_sample"].tolist())
    assert in_best.x[0] == pytest.approx(joined["sharpe_in_sample"][1]) and in_best.marker.symbol == "star"
    assert in_best.marker.color == VALIDATION_COLORS["in_sample_best"]
    assert robust.y[0] == pytest.approx(joined["sharpe_out_of_sample"][0])
    assert robust.marker.color == VALIDATION_COLORS["robust_best"]
    assert diagonal.x[0] == diagonal.y[0] and diagonal.x[1] == diagonal.y[1]
    assert fig.layout.xaxis.title.text == "in-sample Sharpe"


def test_scatter_without_out_of_sample_values_says_why(table) -> None:
    fig = is_oos_scatter(table, "sharpe", best_in_sample=1, reason="the scheme is none: no out-of-sample")
    assert not fig.data and fig.layout.annotations[0].text == "the scheme is none: no out-of-sample"
    assert "no out-of-sample results yet" in is_oos_scatter(table, "sharpe", None).layout.annotations[0].text


def test_pbo_histogram_splits_the_logits_at_zero_and_marks_the_zero_line() -> None:
    logits = [-1.5, -0.2, 0.0, 0.4, 2.0, float("-inf")]
    fig = pbo_histogram(Overfitting(pbo=0.6, blocks=4, combinations=6, logits=logits))
    overfit, holds = fig.data
    assert sorted(overfit.x) == [-1.5, -0.2, 0.0] and sorted(holds.x) == [0.4, 2.0]
    assert overfit.marker.color == VALIDATION_COLORS["overfit"]
    assert holds.marker.color == VALIDATION_COLORS["holds"]
    assert overfit.xbins.size == holds.xbins.size  # one set of bins for both sides
    assert fig.layout.shapes[0].x0 == 0 and fig.layout.shapes[0].x1 == 0
    assert "PBO 0.60" in fig.layout.title.text


def test_pbo_histogram_without_a_block_shows_the_reason() -> None:
    fig = pbo_histogram(None, reason="CSCV needs 16 blocks of returns")
    assert not fig.data and fig.layout.annotations[0].text == "CSCV needs 16 blocks of returns"


def test_importance_bars_are_sorted_largest_on_top() -> None:
    fig = importance_bars(ParameterImportance(method="anova", shares={"a": 0.1, "b": 0.6, "c": 0.25}))
    bar = fig.data[0]
    assert list(bar.y) == ["a", "c", "b"] and list(bar.x) == [0.1, 0.25, 0.6]  # plotly draws the last on top
    assert list(bar.text) == ["10%", "25%", "60%"]
    assert not importance_bars(None, reason="one parameter").data


def test_smoothed_heatmap_is_the_grid_of_the_smoothed_column(table) -> None:
    joined = with_validation(table, report(robustness=robustness()))
    fig = results_heatmap(metric_grid(joined, "a", "b", "sharpe_smoothed"), "sharpe_smoothed", "best")
    z = np.asarray(fig.data[0].z, dtype=float)
    assert z[0][0] == pytest.approx(0.05 * math.sqrt(BARS))  # a=1, b=5: point 0
    assert np.isnan(z[0][1])  # a=2, b=5: point 2 has no smoothed value
    assert fig.data[0].zmid == 0 and fig.data[0].colorbar.title.text == "Smoothed Sharpe<br>best (max)"


def test_the_verdict_says_what_each_statistic_was_computed_from() -> None:
    from airflow_backtest_framework.validation_report import DeflatedSharpe
    from components.validation_panel import make_verdict

    deflated = DeflatedSharpe(
        point=7,
        sharpe=0.05,
        sharpe_annualised=0.05 * math.sqrt(BARS),
        trials=81,
        sharpe_variance=0.0004,
        expected_max_sharpe=0.04,
        skewness=-0.3,
        kurtosis=5.2,
        observations=2520,
        psr=0.93,
        dsr=0.39,
    )
    full = report(
        deflated_sharpe=deflated,
        overfitting=Overfitting(pbo=0.5, blocks=16, combinations=12870, logits=[0.1]),
        robustness=robustness(),
        importance=ParameterImportance(method="one-way ANOVA per parameter", shares={"a": 0.5}),
    )
    text = str([c.to_plotly_json() for c in make_verdict(["best point 7: DSR 0.39"], full)])
    assert "best point 7: DSR 0.39" in text
    for fact in ("N = 81 noise trials", "V[SR] = 4.00e-04", "kurtosis 5.20", "T = 2,520", "skewness -0.30"):
        assert fact in text
    assert f"SR0 = {0.04 * math.sqrt(BARS):.2f} annualised" in text
    assert "S = 16 blocks, 12,870" in text and "one-way ANOVA per parameter" in text and "one step" in text
    assert "partial" not in text


def test_walk_forward_folds_each_say_what_they_chose() -> None:
    from airflow_backtest_framework.validation_report import FoldChoice
    from components.validation_panel import method_lines

    folds = [
        FoldChoice(fold=1, best_in_sample_point=3, in_sample=0.1, out_of_sample=-0.02, oos_percentile=0.25),
        FoldChoice(fold=2, best_in_sample_point=1, in_sample=0.08, out_of_sample=0.03, oos_percentile=0.75),
    ]
    lines = method_lines(report(segments=segments().model_copy(update={"folds": folds})))
    fold_lines = [line for line in lines if line.startswith("Walk-forward fold")]
    scale = math.sqrt(BARS)
    assert fold_lines[0] == (
        f"Walk-forward fold 1: its in-sample window chose point 3 (Sharpe {0.1 * scale:.2f} in sample, "
        f"{-0.02 * scale:.2f} out of sample, above 25% of the points out of sample)."
    )
    assert "fold 2" in fold_lines[1] and "point 1" in fold_lines[1] and len(fold_lines) == 2
