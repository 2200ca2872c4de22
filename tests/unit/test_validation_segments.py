"""The spec's validation scheme, the engine's per-segment metrics and walk-forward causality."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from airflow_backtest_framework.config import SweepConfig, field_errors
from airflow_backtest_framework.results_store import encode_json
from airflow_backtest_framework.validation import fold_choice
from airflow_backtest_framework.validation_spec import (
    SCHEME_HOLDOUT,
    Segment,
    ValidationSpec,
    segments,
    walk_forward_folds,
)
from backtest_engine import RunContext, load_market_data, run_point
from backtest_engine.metrics import compute_metrics
from tests.support.sweeps import grid_params, small_sweep
from tests.unit.test_engine_causality import SAMPLE_UNIVERSE, changed_after


def test_the_default_scheme_is_a_holdout_of_the_last_30_percent() -> None:
    config = small_sweep()
    assert config.validation.scheme == SCHEME_HOLDOUT
    assert config.validation.pbo_blocks == 16
    assert segments(config.validation, 100) == [
        Segment("in_sample", 0, 70),
        Segment("out_of_sample", 70, 100),
    ]
    assert SweepConfig.from_json(config.to_json()).validation == config.validation


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("scheme", "kfold", "choose one of: none, holdout, walk_forward"),
        ("out_of_sample", 0.99, "0.05 to 0.95"),
        ("folds", 1, "2 to 20"),
        ("windows", "expanding", "rolling or anchored"),
        ("pbo_blocks", 15, "even number"),
        ("pbo_blocks", 18, "4 to 16"),
    ],
)
def test_a_wrong_validation_field_gets_a_message_naming_it(field: str, value: object, words: str) -> None:
    with pytest.raises(ValidationError) as caught:
        small_sweep(validation={field: value})
    errors = field_errors(caught.value)
    assert list(errors) == [f"validation.{field}"]
    assert words in errors[f"validation.{field}"]


def test_walk_forward_windows_roll_or_anchor_and_pool_the_out_of_sample_blocks() -> None:
    rolling = segments(ValidationSpec(scheme="walk_forward", folds=5), 120)
    anchored = segments(ValidationSpec(scheme="walk_forward", folds=5, windows="anchored"), 120)
    by_name = {s.name: s for s in rolling}
    assert by_name["fold_3_in_sample"] == Segment("fold_3_in_sample", 40, 60)
    assert by_name["fold_3_out_of_sample"] == Segment("fold_3_out_of_sample", 60, 80)
    assert by_name["out_of_sample"] == Segment("out_of_sample", 20, 120)
    assert {s.name: s for s in anchored}["fold_3_in_sample"] == Segment("fold_3_in_sample", 0, 60)
    for _, inside, outside in walk_forward_folds(anchored):
        assert inside.end == outside.start  # the out-of-sample block starts where the choice ended
    assert len(walk_forward_folds(rolling)) == 5
    assert segments(ValidationSpec(scheme="none"), 120) == []


def test_a_point_record_carries_each_segments_metrics_from_its_own_daily_returns() -> None:
    config = small_sweep()
    data = load_market_data(config, "synthetic")
    result = run_point(config, 0, data)
    record = result.record(RunContext(config.strategy, config.dag_id, "run_1"))
    encode_json(record)  # finite, JSON-ready
    split = data.n_days - round(data.n_days * 0.3)
    inside, outside = record["segments"]["in_sample"], record["segments"]["out_of_sample"]
    assert (inside["start"], inside["end"]) == (str(data.dates[0]), str(data.dates[split - 1]))
    assert outside["start"] == str(data.dates[split])
    net = result.returns.net
    for figures, part in ((inside, net[:split]), (outside, net[split:])):
        expected = np.mean(part) / np.std(part, ddof=1) * np.sqrt(data.bars_per_year)
        assert figures["sharpe"] == pytest.approx(expected, rel=1e-12)
        assert figures["total_return"] == pytest.approx(np.prod(1 + part) - 1, rel=1e-9)
    assert inside["sharpe"] != outside["sharpe"]
    whole = compute_metrics(net, np.cumprod(1 + net), 2.0)["total_return"]
    assert (1 + inside["total_return"]) * (1 + outside["total_return"]) - 1 == pytest.approx(whole, rel=1e-9)


def walk_forward_sweep() -> SweepConfig:
    return SweepConfig(
        name="wf_causality",
        strategy="MeanReversionStrategy",
        params=grid_params("MeanReversionStrategy", "10,20,30", "0.5,1.0,1.5", "0.03", "2"),
        universe=SAMPLE_UNIVERSE,
        start_date="2004-01-01",
        end_date="2006-06-30",
        validation={"scheme": "walk_forward", "folds": 3, "windows": "anchored"},
    )


def test_walk_forward_folds_never_let_out_of_sample_data_reach_the_in_sample_choice() -> None:
    config = walk_forward_sweep()
    data = load_market_data(config, "sample")
    points = np.arange(config.grid_size)
    found = segments(config.validation, data.n_days)
    for fold, inside, outside in walk_forward_folds(found):
        moved = changed_after(data, inside.end, seed=fold)  # every price from the fold's IS end on
        before = [run_point(config, int(p), data) for p in points]
        after = [run_point(config, int(p), moved) for p in points]
        name = f"fold_{fold}_in_sample"
        for first, second in zip(before, after, strict=True):
            assert first.segments[name] == second.segments[name]
        nets = [np.stack([r.returns.net for r in results]) for results in (before, after)]
        chosen = [fold_choice(fold, net, points, inside, outside, 0.0) for net in nets]
        assert chosen[0].choice.best_in_sample_point == chosen[1].choice.best_in_sample_point
        np.testing.assert_array_equal(chosen[0].in_sample, chosen[1].in_sample)
        # The perturbation is real: what is judged out of sample moved.
        assert chosen[0].choice.out_of_sample != chosen[1].choice.out_of_sample
        oos = f"fold_{fold}_out_of_sample"
        assert any(a.segments[oos] != b.segments[oos] for a, b in zip(before, after, strict=True))
