"""Sweep statistics on the points' daily returns (numpy and the standard library only).

Sharpe ratios are per bar: mean excess return over its sample standard deviation (ddof 1), as the
engine computes them before annualising. References:
- Bailey & López de Prado (2014), "The Deflated Sharpe Ratio": `expected_max_sharpe`, `probabilistic_sharpe`.
- Bailey, Borwein, López de Prado & Zhu (2015), "The Probability of Backtest Overfitting": `cscv`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import combinations
from statistics import NormalDist

import numpy as np

EULER_GAMMA = 0.5772156649015329
_NORMAL = NormalDist()
SHARPE_BLOCK_ROWS = 2_048
CSCV_BATCH = 256  # combinations evaluated together (memory: batch × points floats per array)


def sharpe_rows(returns: np.ndarray, risk_free_per_bar: float = 0.0) -> np.ndarray:
    """Per-bar Sharpe of each row of (points, bars) returns; 0 where a row does not vary. Rows are taken
    SHARPE_BLOCK_ROWS at a time: the standard deviation's temporaries stay small beside a 2 GB matrix."""
    points, bars = returns.shape
    result = np.zeros(points)
    if bars < 2:
        return result
    for first in range(0, points, SHARPE_BLOCK_ROWS):
        block = returns[first : first + SHARPE_BLOCK_ROWS]
        std = block.std(axis=1, ddof=1)
        mean = block.mean(axis=1) - risk_free_per_bar  # the excess mean, without a copy of the returns
        np.divide(mean, std, out=result[first : first + SHARPE_BLOCK_ROWS], where=std > 0)
    return result


def moments(returns: np.ndarray) -> tuple[float, float]:
    """Skewness and (non-excess) kurtosis of one series, population moments; (0, 3) if it is flat."""
    centred = returns - returns.mean()
    variance = float(np.mean(centred**2))
    if variance <= 0:
        return 0.0, 3.0
    return float(np.mean(centred**3)) / variance**1.5, float(np.mean(centred**4)) / variance**2


def expected_max_sharpe(trials: int, variance: float) -> float:
    """SR_0: the expected maximum Sharpe of `trials` independent noise trials whose Sharpe ratios
    have `variance` (the false strategy theorem's approximation, eq. in Bailey & López de Prado 2014)."""
    if trials < 2 or variance <= 0:
        return 0.0
    first = _NORMAL.inv_cdf(1.0 - 1.0 / trials)
    second = _NORMAL.inv_cdf(1.0 - 1.0 / (trials * math.e))
    return math.sqrt(variance) * ((1.0 - EULER_GAMMA) * first + EULER_GAMMA * second)


def probabilistic_sharpe(
    sharpe: float, benchmark: float, observations: int, skewness: float, kurtosis: float
) -> float:
    """PSR: the probability that the true Sharpe exceeds `benchmark`, given T returns' skew and kurtosis."""
    if observations < 2:
        return 0.5
    spread = 1.0 - skewness * sharpe + (kurtosis - 1.0) / 4.0 * sharpe**2
    if spread <= 0:
        return 1.0 if sharpe > benchmark else 0.0
    return _NORMAL.cdf((sharpe - benchmark) * math.sqrt(observations - 1) / math.sqrt(spread))


@dataclass(frozen=True)
class Deflated:
    """The deflated Sharpe ratio of one selected series, with every input."""

    sharpe: float
    trials: int
    sharpe_variance: float
    expected_max_sharpe: float
    skewness: float
    kurtosis: float
    observations: int
    psr: float
    dsr: float


def deflated_sharpe(
    selected: np.ndarray, trial_sharpes: np.ndarray, risk_free_per_bar: float = 0.0
) -> Deflated:
    """DSR of the `selected` series' returns, deflated for the `trial_sharpes` of every trial (it included).

    V[SR] is the sample variance (ddof 1) of the trials' per-bar Sharpe ratios.
    """
    sharpe = float(sharpe_rows(selected[None, :], risk_free_per_bar)[0])
    trials = int(trial_sharpes.size)
    variance = float(np.var(trial_sharpes, ddof=1)) if trials > 1 else 0.0
    sr0 = expected_max_sharpe(trials, variance)
    skewness, kurtosis = moments(selected)
    observations = int(selected.size)
    return Deflated(
        sharpe=sharpe,
        trials=trials,
        sharpe_variance=variance,
        expected_max_sharpe=sr0,
        skewness=skewness,
        kurtosis=kurtosis,
        observations=observations,
        psr=probabilistic_sharpe(sharpe, 0.0, observations, skewness, kurtosis),
        dsr=probabilistic_sharpe(sharpe, sr0, observations, skewness, kurtosis),
    )


@dataclass(frozen=True)
class Cscv:
    pbo: float
    blocks: int
    logits: list[float]


def block_bounds(bars: int, blocks: int) -> list[tuple[int, int]]:
    """[start, end) of `blocks` contiguous blocks (the first ones longer by a bar if uneven)."""
    edges = np.cumsum([0] + [bars // blocks + (1 if b < bars % blocks else 0) for b in range(blocks)])
    return [(int(edges[b]), int(edges[b + 1])) for b in range(blocks)]


def cscv(returns: np.ndarray, blocks: int, risk_free_per_bar: float = 0.0) -> Cscv:
    """PBO by combinatorially symmetric cross-validation on (points, bars) returns.

    The bars are cut into `blocks` contiguous blocks; for every choice of half of them as in-sample
    (the rest out-of-sample) the in-sample best point (highest Sharpe; the first on ties) gets its
    out-of-sample rank r among the N points (1 = worst; tied points count half), ω = r / (N + 1) and
    the logit λ = ln(ω / (1 − ω)). PBO is the share of combinations with λ ≤ 0. Sharpe ratios of a
    union of blocks are computed exactly from per-block sums, the out-of-sample sums as the whole
    period's less the in-sample ones.
    """
    points, bars = returns.shape
    if blocks < 2 or blocks % 2 or bars < 2 * blocks or points < 2:
        raise ValueError("CSCV needs an even number of blocks, two bars per block and two points")
    bounds = block_bounds(bars, blocks)
    sizes = np.array([b - a for a, b in bounds], dtype=np.float64)
    sums, squares = np.empty((points, blocks)), np.empty((points, blocks))
    for block, (a, b) in enumerate(bounds):  # no copy of the returns: each block is read in place
        part = returns[:, a:b]
        sums[:, block] = part.sum(axis=1)
        squares[:, block] = np.einsum("ij,ij->i", part, part)
    if risk_free_per_bar:  # the excess returns' sums: Σ(x − rf) and Σ(x − rf)²
        squares += -2.0 * risk_free_per_bar * sums + risk_free_per_bar**2 * sizes
        sums -= risk_free_per_bar * sizes
    chosen = np.array(list(combinations(range(blocks), blocks // 2)), dtype=np.int64)
    member = np.zeros((len(chosen), blocks))
    np.put_along_axis(member, chosen, 1.0, axis=1)
    whole = (sums.sum(axis=1), squares.sum(axis=1), float(sizes.sum()))
    logits = np.empty(len(chosen))
    for first in range(0, len(chosen), CSCV_BATCH):
        part = member[first : first + CSCV_BATCH]
        inside = (part @ sums.T, part @ squares.T, (part @ sizes)[:, None])
        outside = (whole[0] - inside[0], whole[1] - inside[1], whole[2] - inside[2])
        best = _union_score(*inside).argmax(axis=1)
        out = _union_score(*outside)
        value = out[np.arange(len(part)), best][:, None]
        rank = (out < value).sum(axis=1) + 0.5 * ((out == value).sum(axis=1) - 1) + 1
        omega = rank / (points + 1)
        logits[first : first + len(part)] = np.log(omega / (1.0 - omega))
    return Cscv(pbo=float(np.mean(logits <= 0)), blocks=blocks, logits=[float(v) for v in logits])


def _union_score(total: np.ndarray, squares: np.ndarray, count: np.ndarray) -> np.ndarray:
    """(combinations, N) scores ordered as the Sharpe ratios over unions of blocks of `count` bars, with
    sums `total` and sums of squares `squares` (overwritten): Sharpe = t·√((c − 1)/c) / √(qc − t²),
    and the factor √((c − 1)/c) is the same along a row, so t / √(qc − t²) ranks a row's points alike;
    0 where a point does not vary (its standard deviation under 1e-15, as in sharpe_rows)."""
    spread = np.multiply(squares, count, out=squares)
    spread -= total * total
    flat = spread <= 1e-30 * count * (count - 1)
    np.sqrt(spread, out=spread, where=~flat)
    return np.divide(total, spread, out=np.zeros_like(total), where=~flat)


def ranks(values: np.ndarray) -> np.ndarray:
    """Ranks 1..n, ties sharing their average rank."""
    order = np.argsort(values, kind="mergesort")
    ordered = values[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    ends = np.r_[starts[1:], ordered.size]
    average = (starts + ends + 1) / 2.0  # mean of 1-based positions start+1 .. end
    result = np.empty(values.size)
    result[order] = np.repeat(average, ends - starts)
    return result


def spearman(first: np.ndarray, second: np.ndarray) -> float:
    """Spearman's rank correlation (Pearson's on average ranks); 0 when either side is constant."""
    a, b = ranks(first), ranks(second)
    a, b = a - a.mean(), b - b.mean()
    scale = math.sqrt(float(a @ a) * float(b @ b))
    return float(a @ b) / scale if scale > 0 else 0.0


def percentile_of(values: np.ndarray, position: int) -> float:
    """0..1: where `values[position]` ranks among `values` (1 = the top, 0 = the bottom)."""
    if values.size < 2:
        return 1.0
    return float((ranks(values)[position] - 1) / (values.size - 1))


def smooth_on_grid(shape: tuple[int, ...], digits: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Each point's value averaged with its done neighbours one grid step away along each axis.

    `digits` (points, axes) are the points' value indices; points not given are left out of averages.
    """
    grid = np.full(shape, np.nan)
    grid[tuple(digits.T)] = values
    total = np.nan_to_num(grid).copy()
    count = (~np.isnan(grid)).astype(np.float64)
    for axis in range(len(shape)):
        for step in (-1, 1):
            shifted = _shift(grid, axis, step)
            total += np.nan_to_num(shifted)
            count += ~np.isnan(shifted)
    return (total / np.maximum(count, 1.0))[tuple(digits.T)]


def _shift(grid: np.ndarray, axis: int, step: int) -> np.ndarray:
    """`grid` moved by `step` along `axis`, NaN where nothing moved in: out[i] = grid[i + step]."""
    out = np.full_like(grid, np.nan)
    source = [slice(None)] * grid.ndim
    target = [slice(None)] * grid.ndim
    source[axis] = slice(step, None) if step > 0 else slice(None, step)
    target[axis] = slice(None, -step) if step > 0 else slice(-step, None)
    out[tuple(target)] = grid[tuple(source)]
    return out


def main_effects(digits: np.ndarray, values: np.ndarray, names: list[str]) -> dict[str, float]:
    """Per parameter: its main effect's sum of squares (one-way ANOVA on the parameter's levels) over
    the total sum of squares of `values`; 0 for every parameter when the values do not vary."""
    total = float(np.sum((values - values.mean()) ** 2))
    shares: dict[str, float] = {}
    for axis, name in enumerate(names):
        levels, inverse = np.unique(digits[:, axis], return_inverse=True)
        sums = np.bincount(inverse, weights=values, minlength=levels.size)
        counts = np.bincount(inverse, minlength=levels.size)
        means = sums / counts
        between = float(np.sum(counts * (means - values.mean()) ** 2))
        shares[name] = between / total if total > 0 else 0.0
    return shares
