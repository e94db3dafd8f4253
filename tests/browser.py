"""Debian's Chromium, headless, driven by Playwright through its executable path (no browser download)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

OUTPUT = Path(__file__).resolve().parent.parent / "test-output"  # screenshots, kept as test artifacts
CHROMIUM = shutil.which("chromium")
# As root, without a sandbox; and no background traffic, which this machine's closed network refuses.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@contextmanager
def browser_page(locale: str = "en-GB", *, bypass_csp: bool = False) -> Iterator[Page]:
    assert CHROMIUM, "Debian's chromium is installed by scripts/setup --test"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            context = browser.new_context(locale=locale, viewport={"width": 1280, "height": 900}, bypass_csp=bypass_csp)
            context.set_default_timeout(15_000)
            yield context.new_page()
        finally:
            browser.close()


def log_in(page: Page, base_url: str, name: str, password: str) -> None:
    page.goto(f"{base_url}/")
    page.fill("#name", name)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base_url}/")


def screenshot(page: Page, name: str) -> Path:
    OUTPUT.mkdir(exist_ok=True)
    path = OUTPUT / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
