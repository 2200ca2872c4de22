"""Configure in a real browser: validation as you type, the grid size, Save, and the form after a reload."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from airflow_backtest_framework.chunking import ExecutorProfile, describe_plan, points_per_task
from tests.e2e.helpers import choose_strategy, param_feedback, param_input, save_sweep, type_into

pytestmark = pytest.mark.e2e

MR = "MeanReversionStrategy"
# 135 points on the app's local executor (8 slots, this machine's CPUs): "135 points in 7 tasks of ~20" with
# 3 CPUs or more, "... in 6 tasks of ~23" on 2 (the rule itself is pinned in test_chunking.py)
PLAN_135 = describe_plan(135, points_per_task(135, ExecutorProfile("local", 8)))


def test_bad_expression_blocks_save_and_the_form_survives_a_reload(open_page, app_url):
    page = open_page()
    page.goto(app_url + "/")
    choose_strategy(page, MR)
    lookback = param_input(page, MR, "lookback_period")

    type_into(page, lookback, "7:x")
    expect(param_feedback(page, MR, "lookback_period")).to_contain_text("is not a range")
    expect(lookback).to_have_class(re.compile(r"\bis-invalid\b"))
    expect(page.locator("#configure-save")).to_be_disabled()

    type_into(page, lookback, "7:91:5")
    expect(lookback).not_to_have_class(re.compile(r"\bis-invalid\b"))
    expect(param_feedback(page, MR, "lookback_period")).to_have_text("")
    expect(page.locator("#configure-grid-summary")).to_have_text(PLAN_135)
    type_into(page, page.locator("#configure-universe"), "SPY, QQQ, IWM")
    save_sweep(page, "e2e_mr_reload")
    expect(page.locator("#shell-stepper")).to_contain_text("e2e_mr_reload")

    page.reload()

    expect(page.locator("#configure-strategy")).to_have_value(MR)
    expect(param_input(page, MR, "lookback_period")).to_have_value("7:91:5")
    expect(page.locator("#configure-universe")).to_have_value("SPY, QQQ, IWM")
    expect(page.locator("#configure-name")).to_have_value("e2e_mr_reload")
    expect(page.locator("#configure-grid-summary")).to_have_text(PLAN_135)


def test_grid_above_the_cap_disables_save_and_states_the_size(open_page, app_url):
    page = open_page()
    page.goto(app_url + "/")
    choose_strategy(page, MR)

    type_into(page, param_input(page, MR, "lookback_period"), "2:500:200")
    type_into(page, param_input(page, MR, "entry_threshold"), "0.1:10:200")

    expect(page.locator("#configure-grid-message")).to_contain_text(
        "360,000 points exceed the limit of 100,000"
    )
    expect(page.locator("#configure-save")).to_be_disabled()


def test_clone_fills_the_form_under_a_new_name(open_page, app_url):
    page = open_page()
    page.goto(app_url + "/")
    choose_strategy(page, MR)
    type_into(page, param_input(page, MR, "cooldown_period"), "1,2")
    save_sweep(page, "e2e_clone_src")
    page.click("#configure-reset")
    expect(page.locator("#configure-name")).to_have_value("")

    page.select_option("#configure-clone-select", "e2e_clone_src")
    page.click("#configure-clone")

    expect(page.locator("#configure-name")).to_have_value("e2e_clone_src_copy")
    expect(page.locator("#configure-strategy")).to_have_value(MR)
    expect(param_input(page, MR, "cooldown_period")).to_have_value("1,2")
    expect(page.locator("#configure-grid-summary")).to_have_text("54 points in 3 tasks of ~18")


def test_data_source_defaults_to_the_sample_and_a_folder_needs_its_path(open_page, app_url):
    page = open_page()
    page.goto(app_url + "/")
    choose_strategy(page, MR)
    page.click("#configure-reset")
    source, folder = page.locator("#configure-data-source"), page.locator("#configure-data-folder")
    expect(source).to_have_value("sample")
    expect(page.locator("#configure-universe")).to_have_value("AAPL, MSFT, IBM, GOOG")
    expect(page.locator("#configure-data-hint")).to_have_text(
        "Every symbol has data for 2005-01-01 to 2012-12-31."
    )
    expect(folder).to_be_hidden()

    type_into(page, page.locator("#configure-universe"), "AAPL, NVDA")
    expect(page.locator("#configure-data-hint")).to_contain_text("NVDA (not in the sample)")

    page.select_option("#configure-data-source", "folder")
    expect(folder).to_be_visible()
    expect(page.locator("#configure-data-folder-feedback")).to_contain_text("required with the data source")
    type_into(page, page.locator("#configure-name"), "e2e_folder")
    expect(page.locator("#configure-save")).to_be_disabled()
    type_into(page, folder, "/nonexistent/bars")
    expect(page.locator("#configure-data-folder-feedback")).to_have_text("")
    expect(page.locator("#configure-save")).to_be_enabled()
    page.select_option("#configure-data-source", "sample")
    expect(folder).to_be_hidden()
