"""Configure carries every spec field: execution, costs, benchmark, factor lags, validation; a saved
sweep loaded into the form (edit, clone) saves back to the same spec, field for field."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_backtest_framework.config import SweepConfig
from airflow_backtest_framework.execution_spec import FILLS
from airflow_backtest_framework.validation_spec import SCHEMES, WINDOWS
from components.sweep_form import FormDraft, check_draft, draft_from_config, load_draft, validated_config
from tests.support.sweeps import small_sweep

CAP = 100_000
EVERY_FIELD = {
    "fill": "same_close",
    "commission_bps": 2.5,
    "slippage_bps": 7.0,
    "borrow_bps": 150.0,
    "risk_free_rate": 0.0125,
    "benchmark": "MSFT",
    "factors": ["NewsSentiment", "PriceToBook"],
    "factor_lags": {"PriceToBook": 60, "NewsSentiment": 0},
    "validation": {"scheme": "walk_forward", "out_of_sample": 0.4, "folds": 4, "windows": "anchored"}
    | {"pbo_blocks": 10},
    "data_source": "folder",
    "data_folder": "/data/bars",
    "points_per_task": 3,
    "initial_capital": 250_000.5,
    "description": "every field set",
}


def through_the_form(config: SweepConfig, name: str) -> SweepConfig:
    """Load into a draft, through the browser's JSON store, and validate as Save does."""
    draft = load_draft(draft_from_config(config, name).model_dump(mode="json"))
    return validated_config(draft, CAP)


def test_a_spec_with_every_field_set_comes_back_with_the_same_hash() -> None:
    config = small_sweep(name="every_field", **EVERY_FIELD)
    assert config.fill == "same_close" and config.validation.folds == 4  # the fixture took them
    edited = through_the_form(config, "every_field")
    assert edited.model_dump() == config.model_dump()
    assert edited.spec_hash == config.spec_hash
    clone = through_the_form(config, "every_field_copy")
    assert clone.model_dump() == config.model_dump() | {"name": "every_field_copy"}


def test_a_legacy_spec_keeps_its_hash_through_the_form() -> None:
    legacy = small_sweep(name="old_sweep")  # none of the newer fields set
    assert through_the_form(legacy, "old_sweep").spec_hash == legacy.spec_hash


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    fill=st.sampled_from(FILLS),
    costs=st.tuples(*[st.floats(0, 1_000, allow_nan=False) for _ in range(2)], st.floats(0, 10_000)),
    rate=st.floats(-0.05, 0.25, allow_nan=False),
    lag=st.integers(0, 365),
    scheme=st.sampled_from(SCHEMES),
    windows=st.sampled_from(WINDOWS),
    oos=st.floats(0.05, 0.95, allow_nan=False),
    folds=st.integers(2, 20),
    blocks=st.sampled_from([4, 6, 8, 10, 12, 14, 16]),
)
def test_any_valid_settings_survive_the_round_trip(
    fill, costs, rate, lag, scheme, windows, oos, folds, blocks
) -> None:
    validation = {"scheme": scheme, "out_of_sample": oos, "folds": folds, "windows": windows}
    config = small_sweep(
        name="prop_sweep",
        fill=fill,
        commission_bps=costs[0],
        slippage_bps=costs[1],
        borrow_bps=costs[2],
        risk_free_rate=rate,
        benchmark="universe",
        factor_lags={"NewsSentiment": lag},
        validation=validation | {"pbo_blocks": blocks},
    )
    assert through_the_form(config, "prop_sweep").spec_hash == config.spec_hash


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"fill": "tomorrow"}, "fill", "choose one of: next_open, next_close, same_close"),
        ({"commission_bps": "-1"}, "commission_bps", "between 0 and 1,000 bps"),
        ({"slippage_bps": ""}, "slippage_bps", "must be a number"),
        ({"borrow_bps": "20000"}, "borrow_bps", "between 0 and 10,000 bps"),
        ({"risk_free_rate": "2"}, "risk_free_rate", "e.g. 0.02 for 2 %"),
        ({"benchmark": "TSLA"}, "benchmark", "'TSLA' is not in the universe"),
        ({"factors": ["PriceToBook"], "factor_lags": {"PriceToBook": "400"}}, "factor_lags", "0 to 365"),
        ({"factors": ["PriceToBook"], "factor_lags": {"PriceToBook": "x"}}, "factor_lags", "PriceToBook:"),
        ({"validation_folds": "1"}, "validation_folds", "use 2 to 20 walk-forward folds"),
        ({"validation_out_of_sample": "0.99"}, "validation_out_of_sample", "0.05 to 0.95"),
        ({"validation_pbo_blocks": "7"}, "validation_pbo_blocks", "even number of blocks"),
        ({"validation_windows": "sliding"}, "validation_windows", "choose rolling or anchored"),
        ({"validation_scheme": "kfold"}, "validation_scheme", "choose one of: none, holdout"),
    ],
)
def test_each_wrong_setting_gets_the_specs_message_on_its_field(changes, field, words) -> None:
    check = check_draft(FormDraft(name="bad_sweep", **changes), CAP)
    assert words in check.errors[field], check.errors
    assert not check.can_save


def test_lags_of_factors_no_longer_chosen_are_dropped_and_blank_lags_mean_none() -> None:
    draft = FormDraft(
        name="lag_sweep",
        factors=["PriceToBook"],
        factor_lags={"NewsSentiment": "5", "PriceToBook": " ", "DividendYield": "3"},
    )
    assert validated_config(draft, CAP).factor_lags == {}
    typed = draft.model_copy(update={"factor_lags": {"PriceToBook": "20"}})
    assert validated_config(typed, CAP).factor_lags == {"PriceToBook": 20}


def test_the_default_form_saves_the_specs_defaults() -> None:
    config = validated_config(FormDraft(name="defaults"), CAP)
    defaults = SweepConfig.model_fields
    assert config.fill == defaults["fill"].default and config.commission_bps == 5.0
    assert config.validation.model_dump() == {
        "scheme": "holdout",
        "out_of_sample": 0.3,
        "folds": 5,
        "windows": "rolling",
        "pbo_blocks": 16,
    }
    assert "validation" not in config.to_json()  # a default scheme keeps older specs' hashes


def summary_text(config: SweepConfig) -> str:
    from datetime import UTC, datetime

    from components.deploy_view import make_sweep_summary
    from services.models import SweepRecord

    now = datetime(2026, 1, 1, tzinfo=UTC)
    record = SweepRecord(config=config, created_at=now, updated_at=now)
    return str(make_sweep_summary(record).to_plotly_json())


def test_the_spec_summary_shows_every_execution_and_validation_setting() -> None:
    text = summary_text(small_sweep(name="every_field", **EVERY_FIELD))
    for words in (
        "same close — optimistic (look-ahead)",
        "commission 2.5 bps/side · slippage 7 bps/side · borrow 150 bps/yr · risk-free 1.25 %",
        "MSFT",
        "NewsSentiment 0, PriceToBook 60 bars",
        "walk-forward, 4 folds, anchored windows · PBO 10 blocks",
    ):
        assert words in text, words
    defaults = summary_text(small_sweep(name="defaults", factors=[]))
    for words in ("next bar's open", "equal-weighted universe", "holdout, last 30 % out of sample"):
        assert words in defaults, words
    assert "'Factor lags'" in defaults and "'none'" in defaults


def test_a_closed_section_holding_a_wrong_field_opens() -> None:
    from components.configure_settings import sections_to_open

    wrong = check_draft(FormDraft(name="bad_sweep", validation_folds="1", benchmark="TSLA"), CAP).errors
    assert sections_to_open(wrong, None) == ["execution", "validation"]
    assert sections_to_open(wrong, ["validation"]) == ["validation", "execution"]
    assert sections_to_open(wrong, ["execution", "validation"]) is None  # both open: the user's choice stands
    assert sections_to_open(check_draft(FormDraft(name="ok_sweep"), CAP).errors, None) is None
