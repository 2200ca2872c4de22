"""Configure carries every spec field: execution, costs, benchmark, factor lags, validation; a saved
sweep loaded into the form (edit, clone) saves back to the same spec, field for field."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import dash_bootstrap_components as dbc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_backtest_framework.config import SweepConfig
from airflow_backtest_framework.execution_spec import FILLS
from airflow_backtest_framework.validation_spec import SCHEMES, WINDOWS
from components.configure_layout import ConfigureIds
from components.configure_settings import make_settings_sections
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
    "space_filling": False,  # the grid's own run order
}


def through_the_form(config: SweepConfig, name: str) -> SweepConfig:
    """Load into a draft, through the browser's JSON store, and validate as Save does."""
    draft = load_draft(draft_from_config(config, name).model_dump(mode="json"))
    return validated_config(draft, CAP)


def test_a_spec_with_every_field_set_comes_back_with_the_same_hash() -> None:
    config = small_sweep(name="every_field", **EVERY_FIELD)
    assert config.fill == "same_close" and config.validation.folds == 4  # the fixture took them
    assert config.space_filling is False
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
    space_filling=st.booleans(),
)
def test_any_valid_settings_survive_the_round_trip(
    fill, costs, rate, lag, scheme, windows, oos, folds, blocks, space_filling
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
        space_filling=space_filling,
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


def test_the_spec_summary_shows_every_execution_and_validation_setting(tmp_path) -> None:
    from tests.fakes import use_fake_services

    use_fake_services(tmp_path)  # the summary sizes tasks for the app's executor
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


# ---------------------------------------------------------------------------- the page: fields and wiring

GATHER_JS = Path(__file__).resolve().parents[2] / "assets" / "configure.js"
RUN_GATHER = """
global.window = global;
require(process.argv[1]);
const args = JSON.parse(require("fs").readFileSync(0, "utf8"));
dash_clientside.callback_context = {inputs_list: args.inputs};
process.stdout.write(JSON.stringify(dash_clientside.configure.gather(args.draft)));
"""


def find_component(tree, component_id: str):
    """The component of `tree` with `component_id`, or None."""
    if getattr(tree, "id", None) == component_id:
        return tree
    children = getattr(tree, "children", None)
    for child in children if isinstance(children, list | tuple) else [children]:
        if hasattr(child, "to_plotly_json") and (found := find_component(child, component_id)) is not None:
            return found
    return None


def browser_gather(dependency: dict, shown: dict, draft: dict) -> dict:
    """assets/configure.js's `gather`, run by node on what the form's fields show, as the browser runs
    it: one input per entry of the callback's inputs (parameter and lag rows from the draft)."""
    rows = {
        1: [
            {"id": {"type": "configure-param", "strategy": shown["strategy"], "name": n}, "value": v}
            for n, v in FormDraft.model_validate(draft).params_for(shown["strategy"]).items()
        ],
        2: [
            {"id": {"type": "configure-lag", "factor": f}, "value": v}
            for f, v in draft["factor_lags"].items()
        ],
    }
    by_id = {ConfigureIds.STRATEGY: shown["strategy"]} | {
        ConfigureIds.field(name): value for name, value in shown["fields"].items()
    }
    inputs = [
        rows[i] if i in rows else {**item, "value": by_id[item["id"]]}
        for i, item in enumerate(dependency["inputs"])
    ]
    answer = subprocess.run(
        ["node", "-e", RUN_GATHER, str(GATHER_JS)],
        input=json.dumps({"inputs": inputs, "draft": draft}),
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return json.loads(answer.stdout)


@pytest.mark.skipif(shutil.which("node") is None, reason="runs the browser's gather in node")
@pytest.mark.parametrize("space_filling", [False, True])
def test_the_run_order_switch_shows_a_loaded_spec_and_saves_it_back_unchanged(
    tmp_path, space_filling
) -> None:
    from tests.fakes import _app, use_fake_services
    from tests.support.signin import OffLoopClient

    use_fake_services(tmp_path)
    from pages.configure import apply_draft

    switch = find_component(make_settings_sections(), ConfigureIds.field("space_filling"))
    assert isinstance(switch, dbc.Switch) and switch.label == "Space-filling run order"
    assert switch.value is True  # the spec's default until a draft is applied
    dependencies = OffLoopClient(_app[0].server).get("/_dash-dependencies").get_json()
    gather = next(
        d for d in dependencies if (d.get("clientside_function") or {}).get("function_name") == "gather"
    )
    assert {"id": "configure-space-filling", "property": "value"} in gather["inputs"]
    applies = [d["output"] for d in dependencies if "configure-apply" in str(d["inputs"])]
    assert any("configure-space-filling.value" in output for output in applies)

    config = small_sweep(name="every_field", **(EVERY_FIELD | {"space_filling": space_filling}))
    stored = draft_from_config(config, "every_field").model_dump(mode="json")
    shown = apply_draft(1, stored)
    assert shown["fields"]["space_filling"] is space_filling  # the switch shows the spec's flag

    gathered = browser_gather(gather, shown, stored)
    assert gathered["space_filling"] is space_filling
    saved = validated_config(load_draft(gathered), CAP)
    assert saved.space_filling is space_filling and saved.spec_hash == config.spec_hash
    flipped = browser_gather(
        gather, shown | {"fields": shown["fields"] | {"space_filling": not space_filling}}, stored
    )
    assert validated_config(load_draft(flipped), CAP).space_filling is (not space_filling)
