"""Locators and small waits shared by the e2e tests."""

from __future__ import annotations

from playwright.sync_api import Locator, Page, expect

DEBOUNCE_WAIT_MS = 600


def param_input(page: Page, strategy: str, name: str) -> Locator:
    """A parameter's grid-expression input (its id is a JSON pattern-matching id)."""
    return page.locator(
        f"""input[id*='"name":"{name}"'][id*='"strategy":"{strategy}"'][id*='"type":"configure-param"']"""
    )


def param_feedback(page: Page, strategy: str, name: str) -> Locator:
    return page.locator(
        f"""[id*='"name":"{name}"'][id*='"strategy":"{strategy}"'][id*='"type":"configure-param-feedback"']"""
    )


def type_into(page: Page, locator: Locator, text: str) -> None:
    """Replace a field's text as a user would, then let the debounce fire."""
    locator.fill(text)
    locator.blur()
    page.wait_for_timeout(DEBOUNCE_WAIT_MS)


def wait_for_form(page: Page) -> None:
    """The stored draft has been written into the form (a choice made before would be overwritten)."""
    expect(page.locator("input[id*='\"type\":\"configure-param\"']").first).to_be_visible()


def choose_strategy(page: Page, strategy: str) -> None:
    wait_for_form(page)
    page.select_option("#configure-strategy", strategy)
    expect(param_input(page, strategy, "stop_loss_pct")).to_be_visible()


def save_sweep(page: Page, name: str) -> None:
    type_into(page, page.locator("#configure-name"), name)
    expect(page.locator("#configure-save")).to_be_enabled()
    page.click("#configure-save")
    expect(page.locator(".bt-toast")).to_contain_text(f"{name}:")
