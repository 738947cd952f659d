"""Fixtures for the browser tests: a real hotline server (uvicorn in a thread) serving the
built UI, and Debian's Chromium driven by Playwright for Python.

The browser tests need: the built UI (`npm ci && npm run build` in frontend/), the Python
packages `playwright` and `axe-playwright-python`, and `apt-get install -y chromium
fonts-wqy-microhei`. Any of them missing FAILS the tests with a message saying what to do (CI
must not skip them silently); deselect them locally with `-m "not browser"`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hotline.web import BUILD_HINT, DIST, is_built
from live_server import LiveServer

CHROMIUM = os.environ.get("HOTLINE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ROOT = Path(__file__).resolve().parents[2]
# Screenshots go to test-artifacts/ (ignored by git); set HOTLINE_SCREENSHOTS=docs/screenshots
# to refresh the ones in the docs.
SCREENSHOTS = Path(os.environ.get("HOTLINE_SCREENSHOTS", ROOT / "test-artifacts" / "screenshots"))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "browser: drives the built web UI in Chromium (deselect: -m 'not browser')"
    )


@pytest.fixture(scope="session")
def ui_built() -> Path:
    if not is_built(DIST):
        pytest.fail(f"{BUILD_HINT} (looked for {DIST / 'index.html'})", pytrace=False)
    return DIST


@pytest.fixture
def live(settings: Any, runtime: Any, ui_built: Path) -> Iterator[LiveServer]:
    from hotline.api.app import create_app
    from hotline.api.web import mount_web

    app = create_app(settings, runtime=runtime)
    mount_web(app, ui_built)  # harmless once create_app mounts it itself
    server = LiveServer(app)
    server.start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def patient_expect() -> Iterator[None]:
    """`expect` waits up to 10 s (Playwright's default is 5 s): on a loaded two-core CI machine
    a request, the live stream and a re-read can take longer than 5 s together."""
    from playwright.sync_api import expect as playwright_expect

    playwright_expect.set_options(timeout=10_000)
    yield
    playwright_expect.set_options(timeout=None)


@pytest.fixture(scope="session")
def browser(ui_built: Path) -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail(
            "the browser tests need the Python packages playwright and axe-playwright-python "
            "(uv sync --all-groups)",
            pytrace=False,
        )
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"no Chromium at {CHROMIUM}: apt-get install -y chromium fonts-wqy-microhei",
            pytrace=False,
        )
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


class Page:
    """A browser tab with its console watched: page errors and CSP violations fail the test."""

    def __init__(self, browser: Any, base_url: str, **context_args: Any) -> None:
        self.context = browser.new_context(
            base_url=base_url, viewport={"width": 1280, "height": 800}, **context_args
        )
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("pageerror", lambda e: self.errors.append(f"page error: {e}"))
        self.page.on("console", self._console)

    def _console(self, message: Any) -> None:
        text = message.text
        if message.type == "error" and ("Content Security Policy" in text or "Refused to" in text):
            self.errors.append(f"console: {text}")

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def open_page(browser: Any, live: LiveServer) -> Iterator[Any]:
    """open_page(**context_args) → a Playwright page on the live server (own cookies)."""
    pages: list[Page] = []

    def _open(**context_args: Any) -> Any:
        p = Page(browser, live.url, **context_args)
        pages.append(p)
        return p.page

    yield _open
    errors = [e for p in pages for e in p.errors]
    for p in pages:
        p.close()
    assert not errors, "\n".join(errors)


@pytest.fixture
def fast_argon2(monkeypatch: pytest.MonkeyPatch) -> None:
    """Still argon2id, with tiny costs: signing in is not what the browser tests are about."""
    from argon2 import PasswordHasher

    from hotline.domains.identity import secrets as id_secrets

    monkeypatch.setattr(
        id_secrets, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    )


@pytest.fixture
def shot() -> Any:
    """shot(page, name): save a PNG screenshot of the page (viewport) for the docs."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def _shot(page: Any, name: str) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        page.wait_for_timeout(300)  # let transitions settle
        page.screenshot(path=str(path))
        return path

    return _shot
