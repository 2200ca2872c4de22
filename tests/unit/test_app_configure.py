"""Configure page: live validation, the grid size and cap, Save, draft restore, clone, DAG preview."""

from __future__ import annotations

import dash
import pytest

from airflow_backtest_framework.chunking import ExecutorProfile
from components.configure_layout import ConfigureIds
from components.sweep_form import FormDraft, check_draft, copy_name, load_draft
from services.auth import local_principal
from services.settings import Settings
from tests.fakes import use_fake_services
from tests.support.faults import fill_disk, small_disk
from tests.support.sweeps import small_sweep

MR = "MeanReversionStrategy"


@pytest.fixture
def services(tmp_path):
    return use_fake_services(tmp_path)


def draft(**changes) -> FormDraft:
    return FormDraft(**({"strategy": MR, "name": "mr_test"} | changes))


def test_bad_grid_expression_gets_its_own_message_and_blocks_save():
    check = check_draft(draft(params={MR: {"lookback_period": "7:x"}}), max_grid_points=100_000)

    assert "min:max:count" in check.params["lookback_period"].error
    assert check.params["entry_threshold"].error is None
    assert check.grid_size is None
    assert not check.can_save


def test_good_input_shows_values_and_grid_size():
    check = check_draft(
        draft(params={MR: {"lookback_period": "7:91:5"}}),
        max_grid_points=100_000,
        profile=ExecutorProfile("local", 8, cpus=4),
    )

    assert check.params["lookback_period"].preview == "5 values: 7, 28, 49, 70, 91"
    assert check.params["lookback_period"].count == 5
    assert check.summary == "135 points in 7 tasks of ~20"  # local executor: at least 20 points a task
    assert check.level == "ok"
    assert check.can_save


def test_default_mean_reversion_grid_is_81_points_in_5_tasks():
    assert check_draft(draft(), max_grid_points=100_000).summary == "81 points in 5 tasks of ~17"


def test_task_count_follows_the_executor_and_the_override():
    grid = {
        MR: {
            "lookback_period": "5:104:100",
            "entry_threshold": "0.5:5:100",
            "stop_loss_pct": "0.05",
            "cooldown_period": "5",
        }
    }
    two_cpus = ExecutorProfile("local", 8, cpus=2)
    local = check_draft(draft(params=grid), max_grid_points=100_000, profile=two_cpus)
    assert local.summary == "10,000 points in 6 tasks of ~1,667"
    batch = check_draft(draft(params=grid), max_grid_points=100_000, profile=ExecutorProfile("batch", 256))
    assert batch.summary == "10,000 points in 10 tasks of ~1,000"
    override = check_draft(draft(params=grid, points_per_task="500"), max_grid_points=100_000)
    assert override.summary == "10,000 points in 20 tasks of ~500"


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
    assert check.summary == "81 points in 5 tasks of ~17"  # the grid size shows while other fields are wrong


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
    stored = view["draft"]

    record = services.registry.get("mr_test")
    assert record.config.grid_size == 81
    assert current == saved == "mr_test"
    assert alert is None
    assert "Saved mr_test: 81 points in 5 tasks of ~17." in str(toast.to_plotly_json())
    assert (stored["base_name"], stored["base_version"]) == ("mr_test", record.version)


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

    message, saved = save_draft(draft())

    assert saved is None
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
    assert (cloned.base_name, cloned.base_version) == ("mr_spy", services.registry.get("mr_spy").version)
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


# ---------------------------------------------------------------------------- saves that are refused


def text_of(component) -> str:
    return str(component.to_plotly_json())


def outputs(view: dict) -> tuple:
    """The save callback's outputs in the order a reader expects: toast, alert, current, touched,
    saved name, the draft store."""
    return tuple(view[key] for key in ("toast", "alert", "current", "touched", "saved", "draft"))


def test_two_sessions_saving_one_sweep_one_is_refused_and_keeps_what_it_typed(services):
    from pages.configure import save

    opened = services.registry.save(small_sweep(name="mr_a"), by="alice")
    first = draft(name="mr_a", description="from session 1").based_on("mr_a", opened.version)
    second = draft(name="mr_a", description="from session 2").based_on("mr_a", opened.version)

    save(1, first.model_dump(mode="json"))
    toast, alert, current, _touched, _saved, stored = outputs(save(1, second.model_dump(mode="json")))

    assert services.registry.get("mr_a").config.description == "from session 1"
    message = text_of(alert)
    saver = local_principal().name  # sign-in off: the local user saved it, whatever the form's owner
    assert "Not saved." in message and f"mr_a was changed by {saver} at" in message
    assert "since you opened it" in message and "save under another name" in message
    assert stored is dash.no_update and toast is dash.no_update and current is dash.no_update


def test_typing_an_existing_name_without_loading_it_is_refused_with_a_way_out(services):
    from pages.configure import save

    services.registry.save(small_sweep(name="mr_a", owner="alice"))
    typed = draft(name="mr_a", description="mine")
    hint = check_draft(typed, max_grid_points=100_000, existing={"mr_a"}).hints["name"]
    assert "exists: clone it to change it, or pick another name" in hint

    _toast, alert, *_rest = outputs(save(1, typed.model_dump(mode="json")))

    assert "A sweep named mr_a already exists (saved by alice at" in text_of(alert)
    assert services.registry.get("mr_a").config.description != "mine"


def test_a_clone_renamed_back_to_its_source_updates_it(services):
    from pages.configure import clone_draft, save

    services.registry.save(small_sweep(name="mr_a"))
    edited = clone_draft("mr_a").model_copy(update={"name": "mr_a", "description": "edited"})
    assert "Save updates it" in check_draft(edited, 100_000, existing={"mr_a"}).hints["name"]

    toast, alert, *_rest = outputs(save(1, edited.model_dump(mode="json")))

    assert alert is None and "Updated mr_a" in text_of(toast)
    assert services.registry.get("mr_a").config.description == "edited"


def test_saving_the_name_of_a_damaged_record_says_to_restore_or_delete_it(services, tmp_path):
    from pages.configure import save

    services.registry.save(small_sweep(name="mr_a"))
    services.registry.save(small_sweep(name="mr_a", description="v2"))
    record = tmp_path / "registry" / "sweeps" / "mr_a.json"
    record.write_text(record.read_text()[:30])

    _toast, alert, *_rest = outputs(save(1, draft(name="mr_a").model_dump(mode="json")))

    assert "mr_a is damaged" in text_of(alert) and "restore its previous version or delete it" in text_of(
        alert
    )


def test_a_full_disk_on_save_says_so_and_keeps_the_saved_record(tmp_path):
    with small_disk(tmp_path / "disk") as disk:
        # The caches live on another disk here: 64 KiB holds records, not SQLite files.
        settings = Settings(app_data_dir=disk / "app", cache_dir=tmp_path / "cache")
        services = use_fake_services(disk, settings=settings)
        from pages.configure import save  # after the app exists

        saved = services.registry.save(small_sweep(name="mr_a", description="kept"))
        before = (disk / "registry" / "sweeps" / "mr_a.json").read_bytes()
        fill_disk(disk)
        typed = draft(name="mr_a", description="y" * 2000).based_on("mr_a", saved.version)

        _toast, alert, _current, _touched, _saved, stored = outputs(save(1, typed.model_dump(mode="json")))

        folder = disk / "registry" / "sweeps"
        assert f"The disk holding {folder} is full: nothing was saved; free space and save again" in text_of(
            alert
        )
        assert stored is dash.no_update  # the form keeps what was typed
        assert (folder / "mr_a.json").read_bytes() == before
        assert sorted(p.name for p in folder.iterdir()) == [".lock", "mr_a.json", "mr_a.json.prev"]
