"""Configure's Execution & costs and Validation sections in a real browser: messages per field, and the
settings kept through save, reload and clone (nothing reset to defaults)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.helpers import choose_factor, save_sweep, snap, type_into, wait_for_form

pytestmark = pytest.mark.e2e

SETTINGS = {
    "#configure-fill": "same_close",
    "#configure-commission-bps": "2.5",
    "#configure-slippage-bps": "7",
    "#configure-borrow-bps": "150",
    "#configure-risk-free-rate": "0.02",
    "#configure-validation-scheme": "walk_forward",
    "#configure-validation-folds": "4",
    "#configure-validation-windows": "anchored",
}


def open_sections(page: Page) -> None:
    for title in ("Execution & costs", "Validation"):
        button = page.locator("#configure-settings .accordion-button", has_text=title)
        if "collapsed" in (button.get_attribute("class") or ""):
            button.click()
    expect(page.locator("#configure-fill")).to_be_visible()
    expect(page.locator("#configure-validation-scheme")).to_be_visible()


def expect_settings_kept(page: Page) -> None:
    open_sections(page)
    for selector, value in SETTINGS.items():
        expect(page.locator(selector)).to_have_value(value)
    expect(page.locator("#configure-validation-folds")).to_be_visible()


def test_settings_survive_save_reload_and_clone(open_page, app_url):
    page = open_page()
    page.goto(app_url + "/")
    wait_for_form(page)
    page.click("#configure-reset")
    expect(page.locator("#configure-name")).to_have_value("")
    open_sections(page)
    expect(page.locator("#configure-fill")).to_have_value("next_open")
    expect(page.locator("#configure-validation-out-of-sample")).to_be_visible()  # holdout: its share
    expect(page.locator("#configure-validation-folds")).to_be_hidden()

    page.select_option("#configure-fill", "same_close")
    expect(page.locator("#configure-fill option:checked")).to_have_text(re.compile("optimistic"))
    type_into(page, page.locator("#configure-commission-bps"), "2000")
    expect(page.locator("#configure-commission-bps-feedback")).to_contain_text("between 0 and 1,000 bps")
    expect(page.locator("#configure-commission-bps")).to_have_class(re.compile(r"\bis-invalid\b"))
    for selector in ("#configure-commission-bps", "#configure-slippage-bps", "#configure-borrow-bps"):
        type_into(page, page.locator(selector), SETTINGS[selector])
    type_into(page, page.locator("#configure-risk-free-rate"), "0.02")
    expect(page.locator("#configure-commission-bps-feedback")).to_have_text("")

    page.select_option("#configure-validation-scheme", "walk_forward")
    expect(page.locator("#configure-validation-out-of-sample")).to_be_hidden()
    folds = page.locator("#configure-validation-folds")
    expect(folds).to_be_visible()
    type_into(page, folds, "1")
    folds_feedback = page.locator("#configure-validation-folds-feedback")
    expect(folds_feedback).to_contain_text("use 2 to 20 walk-forward folds")
    type_into(page, page.locator("#configure-name"), "e2e_settings")
    expect(page.locator("#configure-save")).to_be_disabled()
    expect(page.locator("#configure-save-reason")).to_contain_text("Folds")
    type_into(page, folds, "4")
    page.select_option("#configure-validation-windows", "anchored")
    save_sweep(page, "e2e_settings")

    page.reload()
    wait_for_form(page)
    expect(page.locator("#configure-name")).to_have_value("e2e_settings")
    expect_settings_kept(page)

    page.click("#configure-reset")
    expect(page.locator("#configure-fill")).to_have_value("next_open")
    page.select_option("#configure-clone-select", "e2e_settings")
    page.click("#configure-clone")
    expect(page.locator("#configure-name")).to_have_value("e2e_settings_copy")
    expect_settings_kept(page)
    save_sweep(page, "e2e_settings_copy")

    page.goto(app_url + "/deploy")
    summary = page.locator("#deploy-summary")
    expect(summary).to_contain_text("e2e_settings_copy")
    expect(summary).to_contain_text("same close — optimistic (look-ahead)")
    expect(summary).to_contain_text("commission 2.5 bps/side · slippage 7 bps/side · borrow 150 bps/yr")
    expect(summary).to_contain_text("walk-forward, 4 folds, anchored windows")
    snap(page, "deploy_summary_settings")


@pytest.mark.parametrize("viewport", ["1366x768", "1920x1080"])
def test_settings_sections_screenshot(open_page, app_url, viewport):
    page = open_page(viewport)
    page.goto(app_url + "/")
    wait_for_form(page)
    page.click("#configure-reset")
    open_sections(page)
    page.select_option("#configure-validation-scheme", "walk_forward")
    expect(page.locator("#configure-validation-folds")).to_be_visible()
    choose_factor(page, "PriceToBook")
    lag = page.locator("""input[id*='"factor":"PriceToBook"'][id*='"type":"configure-lag"']""")
    type_into(page, lag, "400")
    lags_feedback = page.locator("#configure-factor-lags-feedback")
    expect(lags_feedback).to_contain_text("PriceToBook: a lag of 0 to 365 bars")
    type_into(page, lag, "60")
    expect(lags_feedback).to_have_text("")
    snap(page, f"configure_settings_{viewport}")


def test_a_closed_section_opens_when_a_change_elsewhere_makes_its_field_wrong(open_page, app_url):
    page = open_page()
    page.goto(app_url + "/")
    wait_for_form(page)
    page.click("#configure-reset")
    open_sections(page)
    type_into(page, page.locator("#configure-benchmark"), "MSFT")
    page.locator("#configure-settings .accordion-button", has_text="Execution & costs").click()
    expect(page.locator("#configure-benchmark")).to_be_hidden()

    type_into(page, page.locator("#configure-universe"), "AAPL, IBM")  # MSFT leaves the universe
    expect(page.locator("#configure-benchmark")).to_be_visible()
    expect(page.locator("#configure-benchmark-feedback")).to_contain_text("'MSFT' is not in the universe")
    expect(page.locator("#configure-benchmark")).to_have_class(re.compile(r"\bis-invalid\b"))

    # A scheme's own field in error stays in view after switching to a scheme that does not use it.
    page.select_option("#configure-validation-scheme", "walk_forward")
    type_into(page, page.locator("#configure-validation-folds"), "30")
    page.select_option("#configure-validation-scheme", "holdout")
    expect(page.locator("#configure-validation-folds")).to_be_visible()
    expect(page.locator("#configure-validation-folds-feedback")).to_contain_text("use 2 to 20")
    type_into(page, page.locator("#configure-validation-folds"), "5")
    expect(page.locator("#configure-validation-folds")).to_be_hidden()
