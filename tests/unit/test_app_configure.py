"""Configure page: live validation, the grid size and cap, Save, draft restore, clone, DAG preview."""

from __future__ import annotations

import pytest

from components.configure_layout import ConfigureIds
from components.sweep_form import FormDraft, check_draft, copy_name, load_draft
from tests.fakes import use_fake_services
from tests.support.sweeps import small_sweep

MR = "MeanReversionStrategy"


@pytest.fixture
def services(tmp_path):
    return use_fake_services(tmp_path)


def draft(**changes) -> FormDraft:
    return FormDraft(strategy=MR, name="mr_test", **changes)


def test_bad_grid_expression_gets_its_own_message_and_blocks_save():
    check = check_draft(draft(params={MR: {"lookback_period": "7:x"}}), max_grid_points=100_000)

    assert "min:max:count" in check.params["lookback_period"].error
    assert check.params["entry_threshold"].error is None
    assert check.grid_size is None
    assert not check.can_save


def test_good_input_shows_values_and_grid_size():
    check = check_draft(draft(params={MR: {"lookback_period": "7:91:5"}}), max_grid_points=100_000)

    assert check.params["lookback_period"].preview == "5 values: 7, 28, 49, 70, 91"
    assert check.params["lookback_period"].count == 5
    assert check.summary == "135 points in 14 tasks"
    assert check.level == "ok"
    assert check.can_save


def test_default_mean_reversion_grid_is_81_points_in_9_tasks():
    assert check_draft(draft(), max_grid_points=100_000).summary == "81 points in 9 tasks"


def test_out_of_range_value_names_the_allowed_range():
    check = check_draft(draft(params={MR: {"cooldown_period": "5,400"}}), max_grid_points=100_000)

    assert check.params["cooldown_period"].error == "400 is outside the allowed range 0 to 365"


def test_grid_near_the_cap_warns_and_above_it_blocks_save_with_the_size():
    near = check_draft(draft(), max_grid_points=100)
    above = check_draft(draft(), max_grid_points=80)

    assert near.level == "warn" and near.can_save
    assert above.level == "blocked" and not above.can_save
    assert "81 points exceed the limit of 80" in above.grid_message


def test_each_invalid_field_has_its_message():
    check = check_draft(
        draft(universe="AAPL, 1BAD", start_date="2024-01-01", end_date="2023-01-01", initial_capital="-5"),
        max_grid_points=100_000,
    )

    assert "'1BAD' is not a ticker" in check.errors["universe"]
    assert check.errors["end_date"] == "must be after the start date 2024-01-01"
    assert "positive" in check.errors["initial_capital"]
    assert check.summary == "81 points in 9 tasks"  # the grid size shows while other fields are wrong


def test_empty_name_is_a_hint_not_an_error_and_existing_name_warns():
    unnamed = check_draft(FormDraft(strategy=MR), max_grid_points=100_000)
    existing = check_draft(draft(), max_grid_points=100_000, existing={"mr_test"})

    assert "name" not in unnamed.errors and "Name the sweep" in unnamed.hints["name"]
    assert not unnamed.can_save
    assert "exists" in existing.hints["name"] and existing.can_save


def test_a_name_longer_than_the_deploy_target_allows_is_a_name_error():
    def named(length: int) -> FormDraft:
        return FormDraft(strategy=MR, name="n" * length)

    limited = check_draft(named(24), max_grid_points=100_000, max_name_chars=23)
    fits = check_draft(named(23), max_grid_points=100_000, max_name_chars=23)
    unlimited = check_draft(named(60), max_grid_points=100_000)

    assert limited.errors["name"].startswith("use at most 23 characters here (24 now)")
    assert not limited.can_save
    assert "name" not in fits.errors and fits.can_save
    assert "name" not in unlimited.errors and unlimited.can_save


def test_validation_view_maps_messages_to_the_rendered_param_rows(services):
    from pages.configure import validation_view

    check = check_draft(draft(params={MR: {"lookback_period": "abc"}}), max_grid_points=100_000)
    ids = [
        ConfigureIds.param(ConfigureIds.PARAM, MR, name) for name in ("entry_threshold", "lookback_period")
    ]

    view = validation_view(check, ids)

    assert view["param_invalid"] == [False, True]
    assert "'abc' is not a number" in view["param_feedback"][1]
    assert view["param_values"][0] == "3 values: 2, 2.5, 3"
    assert view["save_disabled"] is True
    assert view["save_reason"] == "Fix: lookback_period."


def test_save_stores_the_sweep_in_the_registry(services):
    from pages.configure import save

    view = save(1, draft().model_dump(mode="json"))
    toast, alert, current, saved = view["toast"], view["alert"], view["current"], view["saved"]

    record = services.registry.get("mr_test")
    assert record.config.grid_size == 81
    assert current == saved == "mr_test"
    assert alert is None
    assert "Saved mr_test: 81 points in 9 tasks." in str(toast.to_plotly_json())


def test_save_of_an_invalid_draft_shows_an_alert_and_stores_nothing(services):
    from pages.configure import save

    view = save(1, draft(universe="").model_dump(mode="json"))
    alert, current = view["alert"], view["current"]

    assert "universe" in str(alert.to_plotly_json())
    assert services.registry.list() == []
    assert current is not None  # dash.no_update, not a name


def test_save_respects_the_apps_grid_cap(tmp_path):
    use_fake_services(tmp_path, max_grid_points=50)
    from pages.configure import save_draft

    message, name = save_draft(draft())

    assert name is None
    assert "81 points; the limit is 50" in str(message.to_plotly_json())


def test_draft_restore_fills_every_field_with_what_was_typed(services):
    from pages.configure import apply_draft

    stored = draft(
        params={MR: {"lookback_period": "7:x"}}, universe="SPY QQQ", description="draft"
    ).model_dump(mode="json")

    restored = apply_draft(1, stored)

    assert restored["strategy"] == MR
    assert restored["fields"]["universe"] == "SPY QQQ"
    assert restored["fields"]["description"] == "draft"
    rendered = str(restored["params"].to_plotly_json())
    assert "7:x" in rendered  # the invalid expression survives the reload
    assert "min:max:count" in rendered  # with its message


def test_unreadable_draft_gives_a_fresh_form():
    assert load_draft({"strategy": 5, "params": "nonsense"}) == FormDraft()
    assert load_draft(None) == FormDraft()


def test_switching_strategy_keeps_what_was_typed_for_each(services):
    from pages.configure import switch_strategy

    typed = FormDraft(strategy=MR, params={MR: {"lookback_period": "5:50:10"}}).model_dump(mode="json")

    back, _help = switch_strategy(MR, typed)
    other, help_text = switch_strategy("MomentumStrategy", typed)

    assert "5:50:10" in str(back.to_plotly_json())
    assert "momentum_period" in str(other.to_plotly_json())
    assert "Follow trailing returns" in help_text


def test_clone_loads_the_spec_under_a_new_name(services):
    from pages.configure import clone_draft

    services.registry.save(small_sweep(name="mr_spy"))

    cloned = clone_draft("mr_spy")

    assert cloned.name == "mr_spy_copy"
    assert cloned.params[MR] == small_sweep().params
    assert cloned.universe.startswith("AAPL, MSFT")


def test_copy_name_avoids_taken_names_and_stays_within_60_characters():
    assert copy_name("a", {"a_copy"}) == "a_copy2"
    assert len(copy_name("x" * 60, set())) == 60


def test_dag_preview_is_highlighted_python_of_the_rendered_file(services):
    from pages.configure import preview_markdown

    text = preview_markdown(draft())

    assert text.startswith("```python\n")
    assert "create_sweep_dag(SPEC_JSON)" in text


def test_backticks_in_the_description_stay_inside_the_code_block(services):
    from pages.configure import preview_markdown

    text = preview_markdown(draft(description="```\n![x](http://example.invalid/t.png)\n```"))

    fence = text.split("python\n", 1)[0]
    assert len(fence) > 3 and set(fence) == {"`"}
    assert text.endswith(fence) and text.count(fence) == 2
