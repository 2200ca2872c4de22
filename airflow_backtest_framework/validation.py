"""The sweep validation report (validation_report.py) from the points' daily returns, and its plain verdict.

`build_report` works on a (points, bars) matrix of net daily returns; `validate_run` reads it from a run's
returns files and writes `validation.json`. The selection metric is the per-bar Sharpe ratio over the
selection segment: in-sample for a holdout, the full period otherwise (a walk-forward's folds each
choose on their own in-sample window, shown in `segments.folds`).
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from airflow_backtest_framework import validation_spec as vs
from airflow_backtest_framework import validation_stats as st
from airflow_backtest_framework.config import SweepConfig
from airflow_backtest_framework.results_backends import ResultNotFound
from airflow_backtest_framework.results_store import ResultsStore
from airflow_backtest_framework.returns_matrix import read_returns_matrix
from airflow_backtest_framework.validation_report import (
    DeflatedSharpe,
    FoldChoice,
    Overfitting,
    ParameterImportance,
    Robustness,
    SegmentComparison,
    ValidationReport,
    ValidationScheme,
)

SIGNIFICANT_DSR = 0.95  # the deflated Sharpe at which the best point is called significant
DEFAULT_BARS_PER_YEAR = 252.0
NEIGHBOURHOOD = "the point and its done neighbours one grid step away along each parameter"
IMPORTANCE_METHOD = (
    "main effects: each parameter's between-level sum of squares (one-way ANOVA on its values) "
    "over the total sum of squares of the selection Sharpe"
)


def build_report(
    config: SweepConfig,
    points: np.ndarray,
    dates: np.ndarray,
    returns: np.ndarray,
    *,
    final: bool,
    bars_per_year: float = DEFAULT_BARS_PER_YEAR,
) -> ValidationReport:
    """The report for the done `points` (grid indices, ascending) whose rows of `returns` hold their
    net daily returns on `dates`."""
    clock = time.perf_counter()
    spec = config.validation
    found = vs.segments(spec, dates.size)
    rf = config.risk_free_rate / bars_per_year
    notes: list[str] = []
    selection = _selection_segment(spec, found, dates.size)
    chosen = st.sharpe_rows(returns[:, selection.start : selection.end], rf)
    blocks: dict[str, Any] = {}
    if points.size < 2:
        notes.append("fewer than two points done: the sweep statistics need at least two")
    else:
        blocks["deflated_sharpe"] = _deflated(returns, chosen, points, selection, rf, bars_per_year)
        blocks["overfitting"] = _overfitting(returns, spec.pbo_blocks, rf, notes)
        blocks["segments"] = _segments(spec, found, returns, points, rf, notes)
        blocks["robustness"] = _robustness(config, points, chosen)
        blocks["importance"] = _importance(config, points, chosen, notes)
    return ValidationReport(
        final=final,
        points_done=int(points.size),
        points_total=config.grid_size,
        bars_per_year=bars_per_year,
        scheme=ValidationScheme(kind=spec.scheme, segments=vs.scheme_segments(spec, dates)),
        notes=notes,
        seconds=time.perf_counter() - clock,
        **blocks,
    )


def _selection_segment(spec: vs.ValidationSpec, found: list[vs.Segment], bars: int) -> vs.Segment:
    if spec.scheme == vs.SCHEME_HOLDOUT:
        inside = next((s for s in found if s.name == vs.IN_SAMPLE), None)
        if inside is not None:
            return inside
    return vs.Segment("full", 0, bars)


def _deflated(
    returns: np.ndarray,
    chosen: np.ndarray,
    points: np.ndarray,
    selection: vs.Segment,
    rf: float,
    bars_per_year: float,
) -> DeflatedSharpe:
    best = int(np.argmax(chosen))
    result = st.deflated_sharpe(returns[best, selection.start : selection.end], chosen, rf)
    return DeflatedSharpe(
        point=int(points[best]),
        sharpe_annualised=result.sharpe * math.sqrt(bars_per_year),
        **{name: getattr(result, name) for name in _DEFLATED_FIELDS},
    )


_DEFLATED_FIELDS = (
    "sharpe", "trials", "sharpe_variance", "expected_max_sharpe", "skewness", "kurtosis",
    "observations", "psr", "dsr",
)  # fmt: skip


def _overfitting(returns: np.ndarray, blocks: int, rf: float, notes: list[str]) -> Overfitting | None:
    if returns.shape[1] < 2 * blocks:
        notes.append(
            f"PBO needs at least {2 * blocks} bars for {blocks} blocks; the run has {returns.shape[1]}"
        )
        return None
    result = st.cscv(returns, blocks, rf)
    return Overfitting(pbo=result.pbo, blocks=blocks, combinations=len(result.logits), logits=result.logits)


def _segments(
    spec: vs.ValidationSpec,
    found: list[vs.Segment],
    returns: np.ndarray,
    points: np.ndarray,
    rf: float,
    notes: list[str],
) -> SegmentComparison | None:
    by_name = {segment.name: segment for segment in found}
    outside = by_name.get(vs.OUT_OF_SAMPLE)
    if (
        spec.scheme == vs.SCHEME_NONE
        or outside is None
        or (spec.scheme == vs.SCHEME_HOLDOUT and vs.IN_SAMPLE not in by_name)
    ):
        notes.append("no out-of-sample segment (validation scheme none, or too few bars)")
        return None
    oos = st.sharpe_rows(returns[:, outside.start : outside.end], rf)
    folds: list[FoldChoice] = []
    if spec.scheme == vs.SCHEME_HOLDOUT:
        inside = by_name[vs.IN_SAMPLE]
        in_sample = st.sharpe_rows(returns[:, inside.start : inside.end], rf)
    else:
        fold_sharpes = []
        for fold, inside, fold_out in vs.walk_forward_folds(found):
            choice = fold_choice(fold, returns, points, inside, fold_out, rf)
            folds.append(choice.choice)
            fold_sharpes.append(choice.in_sample)
        if not fold_sharpes:
            notes.append("walk-forward: every fold is shorter than two bars; use fewer folds or more dates")
            return None
        in_sample = np.mean(fold_sharpes, axis=0)
        notes.append("walk-forward: in-sample is each point's mean Sharpe over the folds' in-sample windows")
    best = int(np.argmax(in_sample))
    return SegmentComparison(
        points=[int(p) for p in points],
        in_sample=[float(v) for v in in_sample],
        out_of_sample=[float(v) for v in oos],
        rank_correlation=st.spearman(in_sample, oos),
        best_in_sample_point=int(points[best]),
        best_in_sample_oos_percentile=st.percentile_of(oos, best),
        folds=folds,
    )


class _Fold:
    def __init__(self, choice: FoldChoice, in_sample: np.ndarray) -> None:
        self.choice, self.in_sample = choice, in_sample


def fold_choice(
    fold: int, returns: np.ndarray, points: np.ndarray, inside: vs.Segment, outside: vs.Segment, rf: float
) -> _Fold:
    """One walk-forward fold: the point chosen on the in-sample window only, judged out of sample."""
    in_sample = st.sharpe_rows(returns[:, inside.start : inside.end], rf)
    best = int(np.argmax(in_sample))
    oos = st.sharpe_rows(returns[:, outside.start : outside.end], rf)
    choice = FoldChoice(
        fold=fold,
        best_in_sample_point=int(points[best]),
        in_sample=float(in_sample[best]),
        out_of_sample=float(oos[best]),
        oos_percentile=st.percentile_of(oos, best),
    )
    return _Fold(choice, in_sample)


def _digits(config: SweepConfig, points: np.ndarray) -> np.ndarray:
    return np.array([config.point_indices(int(p)) for p in points], dtype=np.int64)


def _robustness(config: SweepConfig, points: np.ndarray, chosen: np.ndarray) -> Robustness:
    shape = tuple(len(config.values(name)) for name in config.strategy_spec.param_names)
    smoothed = st.smooth_on_grid(shape, _digits(config, points), chosen)
    return Robustness(
        points=[int(p) for p in points],
        smoothed=[float(v) for v in smoothed],
        best_point=int(points[int(np.argmax(smoothed))]),
        best_raw_point=int(points[int(np.argmax(chosen))]),
        neighbourhood=NEIGHBOURHOOD,
    )


def _importance(
    config: SweepConfig, points: np.ndarray, chosen: np.ndarray, notes: list[str]
) -> ParameterImportance | None:
    names = list(config.strategy_spec.param_names)
    digits = _digits(config, points)
    varied = [axis for axis, name in enumerate(names) if len(config.values(name)) > 1]
    if len(varied) < 2:
        notes.append("parameter importance needs at least two parameters with more than one value")
        return None
    shares = st.main_effects(digits[:, varied], chosen, [names[axis] for axis in varied])
    return ParameterImportance(method=IMPORTANCE_METHOD, shares=shares)


def run_bars_per_year(store: ResultsStore, dag_id: str, run_id: str) -> float:
    """Bars per year of the run's points (their records say; the first done point's), else 252."""
    done = store.point_indices(dag_id, run_id)
    if not done:
        return DEFAULT_BARS_PER_YEAR
    record = store.read_point(dag_id, run_id, min(done))
    return float(record.get("bars_per_year", DEFAULT_BARS_PER_YEAR))


def validate_run(
    store: ResultsStore, config: SweepConfig, run_id: str, *, final: bool, bars_per_year: float
) -> ValidationReport:
    """Build the run's report from its returns files (the points done so far) and write `validation.json`."""
    clock = time.perf_counter()
    try:
        points, dates, returns = read_returns_matrix(store, config.dag_id, run_id)
    except ResultNotFound:
        report = ValidationReport(
            final=final,
            points_done=0,
            points_total=config.grid_size,
            bars_per_year=bars_per_year,
            scheme=ValidationScheme(kind=config.validation.scheme),
            notes=["no daily returns written yet: no point has finished"],
        )
    else:
        report = build_report(config, points, dates, returns, final=final, bars_per_year=bars_per_year)
    report = report.model_copy(update={"seconds": time.perf_counter() - clock})
    store.write_validation(config.dag_id, run_id, report.model_dump(mode="json"))
    return report


# --------------------------------------------------------------------------- verdict


def verdict(report: ValidationReport) -> list[str]:
    """Plain sentences, most important first, for the Results page's validation panel."""
    lines: list[str] = []
    if not report.final:
        lines.append(f"partial: {report.points_done:,} of {report.points_total:,} points done so far")
    deflated = report.deflated_sharpe
    if deflated is not None:
        lines.append(_dsr_line(deflated))
    if report.overfitting is not None:
        lines.append(_pbo_line(report.overfitting.pbo))
    if report.segments is not None:
        segments = report.segments
        lines.append(
            f"out of sample, the in-sample best (point {segments.best_in_sample_point}) ranks above "
            f"{segments.best_in_sample_oos_percentile:.0%} of the points; in-sample and out-of-sample "
            f"ranks correlate {segments.rank_correlation:+.2f}"
        )
    if report.robustness is not None:
        lines.append(_robust_line(report.robustness))
    if report.importance is not None and report.importance.shares:
        name, share = max(report.importance.shares.items(), key=lambda item: item[1])
        lines.append(f"{name} explains the most of the Sharpe's variance across the grid ({share:.0%})")
    return lines + list(report.notes)


def _dsr_line(deflated: DeflatedSharpe) -> str:
    head = f"best point {deflated.point}: DSR {deflated.dsr:.2f}"
    if deflated.dsr >= SIGNIFICANT_DSR:
        return f"{head} — significant: above the best of {deflated.trials:,} noise trials (95 % level)"
    return f"{head} — not distinguishable from the best of {deflated.trials:,} noise trials"


def _pbo_line(pbo: float) -> str:
    if pbo > 0.5:
        return f"PBO {pbo:.2f}: the in-sample best is usually below the median out of sample"
    if pbo > 0.1:
        return (
            f"PBO {pbo:.2f}: the in-sample best falls below the median out of sample in {pbo:.0%} of splits"
        )
    return (
        f"PBO {pbo:.2f}: the in-sample best stays above the median out of sample in {1 - pbo:.0%} of splits"
    )


def _robust_line(robustness: Robustness) -> str:
    if robustness.best_point == robustness.best_raw_point:
        return f"point {robustness.best_point} is also the best after smoothing over its grid neighbours"
    return (
        f"the robust best is point {robustness.best_point} (best after smoothing over its neighbours); "
        f"the raw best, point {robustness.best_raw_point}, is a more isolated peak"
    )


def significant(report: ValidationReport) -> bool:
    """Whether the report calls the best point significant (its DSR at or above SIGNIFICANT_DSR)."""
    return report.deflated_sharpe is not None and report.deflated_sharpe.dsr >= SIGNIFICANT_DSR
