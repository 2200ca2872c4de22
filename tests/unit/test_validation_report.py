"""summarize's validation report end to end: noise is not called significant, a planted edge is, and its
robust best lands in the planted region; the report reads back as a ValidationReport."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from airflow_backtest_framework.dag_factory import _summarize
from airflow_backtest_framework.results_store import open_results_store
from airflow_backtest_framework.returns_matrix import read_returns_matrix
from airflow_backtest_framework.validation import significant, validate_run, verdict
from airflow_backtest_framework.validation_report import ValidationReport
from bench.bench_validation import business_days, validation_sweep, write_run

SIDE = 10  # a 10 x 10 grid
BARS = 1_500
REGION = range(6, 9)  # the planted edge: lookback and threshold value indices 6..8 (9 of 100 points)
EDGE = 0.2  # the region's mean daily return, in daily standard deviations


def run(tmp_path: Path, returns: np.ndarray, **fields: object) -> ValidationReport:
    config = validation_sweep("validation_test", side=SIDE, **fields)
    write_run(open_results_store(str(tmp_path)), config, "r", returns, business_days(returns.shape[1]))
    _summarize(config, str(tmp_path), "r")
    return ValidationReport.model_validate(
        open_results_store(str(tmp_path)).read_validation(config.dag_id, "r")
    )


def noise(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(0.0, 0.01, size=(SIDE * SIDE, BARS))


def in_region(point: int) -> bool:
    return point // SIDE in REGION and point % SIDE in REGION


def test_on_pure_noise_the_report_does_not_call_the_best_point_significant(tmp_path: Path) -> None:
    report = run(tmp_path, noise(1))
    assert report.final and report.points_done == report.points_total == 100
    assert not significant(report)
    assert report.deflated_sharpe.psr > report.deflated_sharpe.dsr  # selection deflates it
    assert report.overfitting.pbo > 0.2
    assert report.overfitting.combinations == 12_870 == len(report.overfitting.logits)
    assert abs(report.segments.rank_correlation) < 0.3
    text = verdict(report)
    assert "not distinguishable from the best of 100 noise trials" in text[0]
    assert [s["name"] for s in report.scheme.segments] == ["in_sample", "out_of_sample"]


def test_on_a_planted_edge_the_best_is_significant_and_the_robust_best_is_in_the_region(
    tmp_path: Path,
) -> None:
    returns = noise(2)
    planted = [p for p in range(SIDE * SIDE) if in_region(p)]
    returns[planted] += EDGE * 0.01
    report = run(tmp_path, returns)
    assert significant(report)
    assert in_region(report.deflated_sharpe.point)
    assert report.overfitting.pbo < 0.1
    assert in_region(report.robustness.best_point)
    assert report.robustness.best_point == 77  # the region's centre: every neighbour planted too
    assert report.segments.rank_correlation > 0.3
    assert in_region(report.segments.best_in_sample_point)
    assert report.importance.shares.keys() == {"lookback_period", "entry_threshold"}
    assert "significant" in verdict(report)[0] and "not distinguishable" not in verdict(report)[0]


def test_walk_forward_reports_each_folds_choice_and_a_partial_report_says_so(tmp_path: Path) -> None:
    returns = noise(3)
    report = run(tmp_path, returns, validation={"scheme": "walk_forward", "folds": 4})
    assert [fold.fold for fold in report.segments.folds] == [1, 2, 3, 4]
    first = report.segments.folds[0]
    inside = returns[:, : BARS // 5]
    assert first.best_in_sample_point == int(np.argmax(inside.mean(axis=1) / inside.std(axis=1, ddof=1)))
    config = validation_sweep("validation_test", side=SIDE, validation={"scheme": "none"})
    store = open_results_store(str(tmp_path / "partial"))
    write_run(store, config, "r", returns[:30], business_days(BARS))
    partial = validate_run(store, config, "r", final=False, bars_per_year=252)
    assert (partial.final, partial.points_done, partial.segments) == (False, 30, None)
    assert verdict(partial)[0] == "partial: 30 of 100 points done so far"
    assert ValidationReport.model_validate(store.read_validation(config.dag_id, "r")) == partial


def test_returns_are_read_chunk_by_chunk_in_grid_order_and_mismatched_dates_are_refused(
    tmp_path: Path,
) -> None:
    config = validation_sweep("validation_test", side=SIDE)
    store = open_results_store(str(tmp_path))
    returns = noise(4)
    for first, count in ((90, 10), (0, 9), (10, 10), (9, 1)):  # keys 10.parquet and 90.parquet list before 9
        rows = returns[first : first + count]
        write_run(store, config, "r", rows, business_days(BARS), chunk=count, first=first)
    points, dates, matrix = read_returns_matrix(store, config.dag_id, "r")
    assert points.tolist() == [*range(20), *range(90, 100)]
    np.testing.assert_array_equal(matrix, np.concatenate([returns[:20], returns[90:]]))
    assert dates[0] == np.datetime64("2014-01-02")
    write_run(store, config, "r", returns[40:50], business_days(BARS, start="2015-01-02"), chunk=10, first=40)
    with pytest.raises(ValueError, match="do not share the same dates"):
        read_returns_matrix(store, config.dag_id, "r")


def _write_chunk(store, config, chunk_start: int, points: list[int], returns: np.ndarray, dates) -> None:
    """One chunk's returns file holding `points` (any grid indices, as the space-filling order gives)."""
    bars = dates.size
    columns = {
        "point": np.repeat(np.array(points, dtype=np.int64), bars),
        "date": np.tile(dates, len(points)),
        "net_return": returns[points].ravel(),
    }
    zeros = np.zeros(columns["point"].size)
    extra = {name: zeros for name in ("gross_return", "exposure", "benchmark_return", "traded")}
    store.write_returns(config.dag_id, "r", chunk_start, {**columns, **extra})


def test_chunks_of_the_space_filling_order_are_read_into_grid_order(tmp_path: Path) -> None:
    """A chunk holds positions of the run order: its points are spread over the grid and interleave with
    other chunks'. Every row still lands at its own grid index; a point in two files is refused."""
    config = validation_sweep("validation_test", side=SIDE)
    store = open_results_store(str(tmp_path))
    returns, dates = noise(4), business_days(BARS)
    _write_chunk(store, config, 0, [7, 0, 42, 13], returns, dates)
    _write_chunk(store, config, 4, [3, 99, 8, 1], returns, dates)
    points, _dates, matrix = read_returns_matrix(store, config.dag_id, "r")
    assert points.tolist() == [0, 1, 3, 7, 8, 13, 42, 99]
    np.testing.assert_array_equal(matrix, returns[points])
    _write_chunk(store, config, 8, [5, 42], returns, dates)
    with pytest.raises(ValueError, match="appears in two returns files"):
        read_returns_matrix(store, config.dag_id, "r")


def test_the_verdict_says_each_block_in_plain_words() -> None:
    from airflow_backtest_framework.validation_report import (
        DeflatedSharpe,
        Overfitting,
        ParameterImportance,
        Robustness,
        ValidationScheme,
    )

    deflated = DeflatedSharpe(
        point=12, sharpe=0.05, sharpe_annualised=0.81, trials=81, sharpe_variance=0.001,
        expected_max_sharpe=0.07, skewness=0.0, kurtosis=3.0, observations=500, psr=0.93, dsr=0.39,
    )  # fmt: skip
    report = ValidationReport(
        final=True,
        points_done=81,
        points_total=81,
        bars_per_year=252,
        scheme=ValidationScheme(kind="none"),
        deflated_sharpe=deflated,
        overfitting=Overfitting(pbo=0.81, blocks=16, combinations=2, logits=[-1.0, 0.5]),
        robustness=Robustness(
            points=[1, 2], smoothed=[0.1, 0.2], best_point=2, best_raw_point=1, neighbourhood="x"
        ),
        importance=ParameterImportance(method="m", shares={"a": 0.2, "b": 0.62}),
        notes=["no out-of-sample segment"],
    )
    assert verdict(report) == [
        "best point 12: DSR 0.39 — not distinguishable from the best of 81 noise trials",
        "PBO 0.81: the in-sample best is usually below the median out of sample",
        "the robust best is point 2 (best after smoothing over its neighbours); "
        "the raw best, point 1, is a more isolated peak",
        "b explains the most of the Sharpe's variance across the grid (62%)",
        "no out-of-sample segment",
    ]
    low = report.model_copy(
        update={"overfitting": Overfitting(pbo=0.05, blocks=16, combinations=1, logits=[1.0])}
    )
    assert "stays above the median out of sample in 95% of splits" in verdict(low)[1]


@pytest.mark.parametrize(
    ("scheme", "note"),
    [
        ({"scheme": "holdout", "out_of_sample": 0.95}, "no out-of-sample segment"),
        ({"scheme": "walk_forward", "folds": 20}, "every fold is shorter than two bars"),
        ({"scheme": "none"}, "no out-of-sample segment"),
    ],
)
def test_too_few_bars_or_points_give_notes_not_errors(scheme: dict, note: str) -> None:
    from airflow_backtest_framework.validation import build_report

    config = validation_sweep("validation_test", side=3, validation=scheme)
    dates = business_days(12)
    returns = np.random.default_rng(0).normal(size=(9, 12))
    report = build_report(config, np.arange(9), dates, returns, final=True)
    assert report.segments is None and report.overfitting is None
    assert any(note in line for line in report.notes)
    assert "PBO needs at least 32 bars for 16 blocks; the run has 12" in report.notes
    alone = build_report(config, np.arange(1), dates, returns[:1], final=True)
    assert alone.deflated_sharpe is None and "fewer than two points" in alone.notes[0]
