"""One headless Chromium for the whole test session (Debian's ``chromium`` package driven by
Playwright's Python API; Playwright's own browser download is never used).

Tests get ``page`` (a fresh page whose console errors and uncaught exceptions are collected in
``page.errors``). Screenshots go to the test's tmp directory; with ``LLMHPO_SCREENSHOTS=DIR``
they are also copied to DIR (``docs/images`` refreshes the docs' figures).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from browser_helpers import missing

CHROMIUM = os.environ.get("LLMHPO_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-sync"]


@pytest.fixture(scope="session")
def browser():
    try:
        from playwright import sync_api
    except ImportError:
        missing("the playwright package is not installed (pip install playwright)")
    if not Path(CHROMIUM).exists():
        missing(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    ctx = browser.new_context(viewport={"width": 1200, "height": 900})
    pg = ctx.new_page()
    pg.errors = []
    pg.on("console", lambda m: pg.errors.append(m.text) if m.type == "error" else None)
    pg.on("pageerror", lambda e: pg.errors.append(str(e)))
    yield pg
    ctx.close()
