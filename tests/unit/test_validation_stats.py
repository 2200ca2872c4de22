"""DSR, CSCV's PBO and the grid statistics against the papers and straightforward re-implementations."""

from __future__ import annotations

import math
from itertools import combinations

import numpy as np
import pytest

from airflow_backtest_framework import validation_stats as st

# Bailey & López de Prado (2014), "The Deflated Sharpe Ratio", section 4's numerical example: an annualised
# Sharpe of 2.5 over 1,250 daily returns (250 a year), skewness -3, kurtosis 10, chosen among 100 trials
# whose annualised Sharpe ratios vary by 0.5; the paper reports SR_0 = 0.1132 per day and DSR = 0.9004.
PAPER_DAYS = 250


def test_deflated_sharpe_matches_the_papers_numerical_example() -> None:
    sharpe, variance = 2.5 / math.sqrt(PAPER_DAYS), 0.5 / PAPER_DAYS
    sr0 = st.expected_max_sharpe(100, variance)
    assert sr0 == pytest.approx(0.1132, abs=5e-5)
    assert st.probabilistic_sharpe(sharpe, sr0, 1250, -3.0, 10.0) == pytest.approx(0.9004, abs=5e-5)


def _phi(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def _phi_inverse(p: float) -> float:
    low, high = -40.0, 40.0
    for _ in range(200):  # bisection on the erf-based CDF
        middle = (low + high) / 2
        low, high = (middle, high) if _phi(middle) < p else (low, middle)
    return (low + high) / 2


def _dsr_by_hand(selected: list[float], trial_sharpes: list[float]) -> tuple[float, float]:
    n = len(selected)
    mean = sum(selected) / n
    sd = math.sqrt(sum((x - mean) ** 2 for x in selected) / (n - 1))
    sharpe = mean / sd
    m2 = sum((x - mean) ** 2 for x in selected) / n
    skew = sum((x - mean) ** 3 for x in selected) / n / m2**1.5
    kurt = sum((x - mean) ** 4 for x in selected) / n / m2**2
    k = len(trial_sharpes)
    trial_mean = sum(trial_sharpes) / k
    var = sum((s - trial_mean) ** 2 for s in trial_sharpes) / (k - 1)
    gamma = 0.5772156649015329
    sr0 = math.sqrt(var) * (
        (1 - gamma) * _phi_inverse(1 - 1 / k) + gamma * _phi_inverse(1 - 1 / (k * math.e))
    )
    z = (sharpe - sr0) * math.sqrt(n - 1) / math.sqrt(1 - skew * sharpe + (kurt - 1) / 4 * sharpe**2)
    return sr0, _phi(z)


def test_deflated_sharpe_equals_a_plain_python_implementation_on_fixed_data() -> None:
    rng = np.random.default_rng(11)
    returns = rng.standard_t(5, size=(40, 300)) * 0.01 + 0.0006
    trial = st.sharpe_rows(returns)
    best = int(np.argmax(trial))
    result = st.deflated_sharpe(returns[best], trial)
    sr0, dsr = _dsr_by_hand(returns[best].tolist(), trial.tolist())
    assert result.expected_max_sharpe == pytest.approx(sr0, abs=1e-9)
    assert result.dsr == pytest.approx(dsr, abs=1e-6)
    assert 0.0 < result.dsr < result.psr < 1.0  # deflating lowers the bar's probability
    assert (result.trials, result.observations) == (40, 300)


def _pbo_by_hand(returns: np.ndarray, blocks: int) -> tuple[float, list[float]]:
    """CSCV as the paper's steps read: concatenate the chosen blocks' rows, Sharpe each column (here a
    row), take the in-sample best, rank it among the out-of-sample Sharpe ratios."""
    n, t = returns.shape
    edges = np.linspace(0, t, blocks + 1).round().astype(int)
    parts = [returns[:, edges[b] : edges[b + 1]] for b in range(blocks)]
    logits = []
    for chosen in combinations(range(blocks), blocks // 2):
        train = np.concatenate([parts[b] for b in chosen], axis=1)
        test = np.concatenate([parts[b] for b in range(blocks) if b not in chosen], axis=1)
        sr_train = [float(np.mean(row) / np.std(row, ddof=1)) for row in train]
        sr_test = [float(np.mean(row) / np.std(row, ddof=1)) for row in test]
        star = sr_train.index(max(sr_train))
        rank = 1 + sorted(sr_test).index(sr_test[star])
        omega = rank / (n + 1)
        logits.append(math.log(omega / (1 - omega)))
    return sum(1 for v in logits if v <= 0) / len(logits), logits


def test_pbo_equals_a_straightforward_implementation_on_fixed_data() -> None:
    rng = np.random.default_rng(5)
    returns = rng.normal(0.0002, 0.01, size=(25, 240)) + rng.normal(0, 0.0004, size=(25, 1))
    result = st.cscv(returns, 8)
    pbo, logits = _pbo_by_hand(returns, 8)
    assert len(result.logits) == math.comb(8, 4) == len(logits)
    np.testing.assert_allclose(result.logits, logits, atol=1e-6)
    assert result.pbo == pytest.approx(pbo, abs=1e-12)


def test_pbo_of_a_strategy_best_in_every_block_is_zero_with_every_logit_log_n() -> None:
    rng = np.random.default_rng(2)
    returns = rng.normal(0, 0.01, size=(6, 160))
    returns[3] = np.abs(returns[3]) * 0.1 + 0.01  # positive, steady: the top Sharpe on any block set
    result = st.cscv(returns, 16)
    assert result.pbo == 0.0
    np.testing.assert_allclose(result.logits, math.log(6), atol=1e-12)  # rank N: ω = N / (N + 1)


def test_pbo_of_two_mirrored_strategies_follows_the_papers_definition_by_hand() -> None:
    # Strategy 0 earns 2 a bar in blocks 0 and 1 and 1 in blocks 2 and 3; strategy 1 the mirror image.
    # IS {0,1}: 0 wins in sample, loses out of sample: rank 1 of 2, ω = 1/3, λ = ln(1/2); IS {2,3}: the
    # same for 1; the four mixed splits tie in and out of sample (rank 1.5, ω = 1/2, λ = 0).
    block = {2: [2.5, 1.5], 1: [1.5, 0.5]}  # means 2 and 1, the same spread: exact binary fractions
    first = [x for m in (2, 2, 1, 1) for x in block[m]]
    second = [x for m in (1, 1, 2, 2) for x in block[m]]
    result = st.cscv(np.array([first, second]) / 64, 4)
    assert result.logits == pytest.approx([math.log(0.5), 0, 0, 0, 0, math.log(0.5)], abs=1e-12)
    assert result.pbo == 1.0


def test_spearman_smoothing_and_main_effects_equal_plain_loops() -> None:
    rng = np.random.default_rng(8)
    a, b = rng.normal(size=50), rng.normal(size=50)
    d = np.argsort(np.argsort(a)) - np.argsort(np.argsort(b))
    assert st.spearman(a, b) == pytest.approx(1 - 6 * np.sum(d**2) / (50 * (50**2 - 1)), abs=1e-12)
    assert st.spearman(np.array([1.0, 2, 2, 3]), np.array([1.0, 2, 2, 3])) == pytest.approx(1.0)

    shape = (4, 5)
    digits = np.array([(i, j) for i in range(4) for j in range(5) if (i, j) != (2, 2)])
    values = rng.normal(size=len(digits))
    known = {tuple(d): v for d, v in zip(digits, values, strict=True)}
    smoothed = st.smooth_on_grid(shape, digits, values)
    for (i, j), got in zip(map(tuple, digits), smoothed, strict=True):
        around = [(i, j), (i - 1, j), (i + 1, j), (i, j - 1), (i, j + 1)]
        near = [known[p] for p in around if p in known]
        assert got == pytest.approx(sum(near) / len(near), abs=1e-12)

    shares = st.main_effects(digits, values, ["x", "y"])
    grand = values.mean()
    total = sum((v - grand) ** 2 for v in values)
    for axis, name in enumerate(("x", "y")):
        between = 0.0
        for level in set(digits[:, axis]):
            group = values[digits[:, axis] == level]
            between += len(group) * (group.mean() - grand) ** 2
        assert shares[name] == pytest.approx(between / total, abs=1e-12)


def test_a_wrong_cscv_input_is_refused() -> None:
    with pytest.raises(ValueError, match="even number of blocks"):
        st.cscv(np.zeros((3, 100)), 5)


def test_sharpe_rows_taken_block_by_block_equal_each_rows_own_sharpe() -> None:
    rng = np.random.default_rng(4)
    returns = rng.normal(0.0004, 0.01, size=(st.SHARPE_BLOCK_ROWS * 2 + 7, 50))
    returns[st.SHARPE_BLOCK_ROWS + 1] = 0.001  # a flat row: 0, not a division by zero
    got = st.sharpe_rows(returns, 0.0001)
    plain = [(row.mean() - 0.0001) / row.std(ddof=1) if row.std() > 0 else 0.0 for row in returns]
    np.testing.assert_allclose(got, plain, rtol=1e-12, atol=0)
    assert got[st.SHARPE_BLOCK_ROWS + 1] == 0.0
