"""Configure's data source: the default runs on the bundled sample; the folder field; old specs; the hint."""

from __future__ import annotations

import pytest

from components.sweep_form import FormDraft, check_draft, draft_from_config, hint_config, validated_config
from tests.fakes import use_fake_services
from tests.support.sweeps import small_sweep


@pytest.fixture
def services(tmp_path):
    return use_fake_services(tmp_path)


def test_the_default_sweep_is_real_prices_the_sample_covers(services) -> None:
    from pages.configure import show_data_hint

    config = validated_config(FormDraft(name="first_sweep"), max_grid_points=100_000)
    assert config.data_source == "sample" and config.data_folder == ""
    check = services.actions.data_check(config)
    assert check.ok and not check.warning, check.detail  # every default symbol for the whole period
    hint = str(show_data_hint(FormDraft().model_dump()).to_plotly_json())
    assert "Every symbol has data for 2005-01-01 to 2012-12-31" in hint


def test_the_hint_names_symbols_the_sample_lacks(services) -> None:
    from pages.configure import show_data_hint

    draft = FormDraft(universe="AAPL, NVDA", start_date="2005-01-01", end_date="2012-12-31")
    hint = str(show_data_hint(draft.model_dump()).to_plotly_json())
    assert "NVDA (not in the sample)" in hint and "text-danger-emphasis" in hint
    assert show_data_hint(FormDraft(universe="").model_dump()) == ""  # the universe's message shows instead
    assert show_data_hint(FormDraft(data_source="database").model_dump()) == ""  # checked at preflight


def test_folder_needs_its_path_and_other_sources_drop_it() -> None:
    folder = check_draft(FormDraft(name="f_sweep", data_source="folder"), max_grid_points=100_000)
    assert "required with the data source 'folder'" in folder.errors["data_folder"] and not folder.can_save
    typed = FormDraft(name="f_sweep", data_source="sample", data_folder="/data/bars")
    assert validated_config(typed, 100_000).data_folder == ""  # typed, then the source changed
    chosen = FormDraft(name="f_sweep", data_source="folder", data_folder=" /data/bars ")
    assert validated_config(chosen, 100_000).data_folder == "/data/bars"
    bad = check_draft(FormDraft(name="f_sweep", data_source="ftp"), max_grid_points=100_000)
    assert "choose one of: sample, database, folder, synthetic" in bad.errors["data_source"]


def test_a_legacy_spec_clones_to_the_deployment_default_and_back() -> None:
    legacy = small_sweep(name="old_sweep")  # saved before the field: no data source
    draft = draft_from_config(legacy, "old_sweep_copy")
    assert draft.data_source == ""
    assert validated_config(draft, 100_000).data_source is None
    chosen = draft_from_config(small_sweep(name="syn_sweep", data_source="synthetic"), "syn_copy")
    assert validated_config(chosen, 100_000).data_source == "synthetic"
    assert hint_config(FormDraft(start_date="2020-01-01", end_date="2019-01-01")) is None
