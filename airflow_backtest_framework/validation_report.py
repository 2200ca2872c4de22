"""The sweep validation report: what `summarize` writes beside the results and the Results page reads.

`<dag_id>/<run_id>/validation.json` holds one `ValidationReport`. `summarize` rewrites it while the run
goes on (`final` false, computed from the points done so far) and once at the end (`final` true). Every
block is optional: a block is None when it cannot be computed yet (too few points, no out-of-sample
segment, one parameter only) and `notes` says why, in words a researcher reads.

Sharpe ratios here are per bar (not annualised) unless a field says `annualised`; the papers' formulas
work on the per-bar figure and the page converts for display with `bars_per_year`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

VALIDATION_FILE = "validation.json"
REPORT_VERSION = 1


class _Block(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DeflatedSharpe(_Block):
    """Bailey & López de Prado (2014): is the best Sharpe above the best of `trials` noise trials?"""

    point: int  # index of the point whose Sharpe is deflated (the selected best)
    sharpe: float  # its Sharpe ratio per bar, over the segment the selection was made on
    sharpe_annualised: float
    trials: int  # N: the number of points tried
    sharpe_variance: float  # V[SR_n] across the trials, per bar
    expected_max_sharpe: float  # SR_0: the expected maximum of N noise trials, per bar
    skewness: float  # of the best point's returns
    kurtosis: float  # of the best point's returns (not excess: 3 for a normal)
    observations: int  # T: the number of returns
    psr: float  # probabilistic Sharpe against 0
    dsr: float  # deflated Sharpe: PSR against SR_0


class Overfitting(_Block):
    """Bailey, Borwein, López de Prado & Zhu (2015): CSCV's probability of backtest overfitting."""

    pbo: float  # share of the combinations whose in-sample best ranks at or below the OOS median
    blocks: int  # S
    combinations: int  # C(S, S/2)
    logits: list[float]  # one per combination: logit of the IS best's relative OOS rank
    metric: str = "sharpe"


class FoldChoice(_Block):
    """One walk-forward fold: the point its in-sample window chose, and how that point did out of sample."""

    fold: int  # from 1
    best_in_sample_point: int
    in_sample: float  # its Sharpe per bar on the fold's in-sample window
    out_of_sample: float  # ... on the fold's out-of-sample block
    oos_percentile: float  # 0..1: where it ranks out of sample (1 = top)


class SegmentComparison(_Block):
    """In-sample against out-of-sample, one value per point done (holdout, or walk-forward pooled)."""

    points: list[int]
    in_sample: list[float]
    out_of_sample: list[float]
    rank_correlation: float  # Spearman between the two lists
    best_in_sample_point: int
    best_in_sample_oos_percentile: float  # 0..1: where the IS best ranks out of sample (1 = top)
    metric: str = "sharpe"
    folds: list[FoldChoice] = Field(default_factory=list)  # walk-forward only: each fold's choice


class Robustness(_Block):
    """Each point's metric averaged over its grid neighbours: a plateau rather than an isolated peak."""

    points: list[int]
    smoothed: list[float]  # aligned with `points`
    best_point: int  # best by the smoothed metric
    best_raw_point: int
    neighbourhood: str  # in words, e.g. "the point and its neighbours one grid step away on each axis"
    metric: str = "sharpe"


class ParameterImportance(_Block):
    """Share of the metric's variance each parameter's main effect explains."""

    method: str  # in words, e.g. "main-effect sum of squares (one-way ANOVA per parameter) over total"
    shares: dict[str, float]  # parameter name -> 0..1
    metric: str = "sharpe"


class ValidationScheme(_Block):
    """The spec's validation scheme as the engine applied it (dates are ISO strings)."""

    kind: Literal["none", "holdout", "walk_forward"]
    segments: list[dict[str, str]] = Field(default_factory=list)  # {"name", "start", "end"} in order


class ValidationReport(_Block):
    version: int = REPORT_VERSION
    final: bool
    points_done: int
    points_total: int
    bars_per_year: float
    scheme: ValidationScheme
    deflated_sharpe: DeflatedSharpe | None = None
    overfitting: Overfitting | None = None
    segments: SegmentComparison | None = None
    robustness: Robustness | None = None
    importance: ParameterImportance | None = None
    notes: list[str] = Field(default_factory=list)
    seconds: float = 0.0  # how long summarize took to compute this report
