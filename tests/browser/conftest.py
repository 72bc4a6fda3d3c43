"""Headless Chromium (Debian's package, never a downloaded build) driving a real
`sidequest web` process on a real Redis. Screenshots go to test-artifacts/screenshots/.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis
from playwright.sync_api import (
    BrowserContext,
    ConsoleMessage,
    Dialog,
    Error,
    Page,
    sync_playwright,
)

from tests.browser.dashboard_server import ROOT, DashboardServer

USERNAME = "operator"
PASSWORD = "browser-test-password"
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def chromium_path() -> str:
    found = shutil.which("chromium")
    if found is None:
        raise RuntimeError(
            "chromium is not installed: run `make test` (it installs Debian's chromium "
            "package) or `apt-get install chromium`"
        )
    return found


@dataclass
class Problems:
    """Console errors and uncaught exceptions seen by a page (CSP violations included)."""

    messages: list[str] = field(default_factory=list)

    def console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.messages.append(f"console: {message.text}")

    def page_error(self, error: Error) -> None:
        self.messages.append(f"page error: {error}")


@pytest.fixture
def dashboard(redis_url: str, tmp_path: Path) -> Iterator[DashboardServer]:
    server = DashboardServer(
        redis_url,
        tmp_path / "sidequest-web.log",
        {"SIDEQUEST_WEB_USERNAME": USERNAME, "SIDEQUEST_WEB_PASSWORD": PASSWORD},
    )
    yield server.start()
    server.stop()


@pytest.fixture
def context(tmp_path: Path) -> Iterator[BrowserContext]:
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),
            executable_path=chromium_path(),
            headless=True,
            args=CHROMIUM_FLAGS,
            http_credentials={"username": USERNAME, "password": PASSWORD},
            viewport={"width": 1280, "height": 900},
        )
        context.set_default_timeout(10_000)
        yield context
        context.close()


@dataclass
class Dialogs:
    """Answers confirm() dialogs (accept unless a test says otherwise) and keeps their text."""

    accept: bool = True
    seen: list[str] = field(default_factory=list)

    def answer(self, dialog: Dialog) -> None:
        self.seen.append(dialog.message)
        if self.accept:
            dialog.accept()
        else:
            dialog.dismiss()


@pytest.fixture
def problems() -> Problems:
    return Problems()


@pytest.fixture
def dialogs() -> Dialogs:
    return Dialogs()


@pytest.fixture
def page(context: BrowserContext, problems: Problems, dialogs: Dialogs) -> Page:
    page = context.pages[0] if context.pages else context.new_page()
    page.on("console", problems.console)
    page.on("pageerror", problems.page_error)
    page.on("dialog", dialogs.answer)
    return page


@pytest.fixture
def db(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


def screenshot(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
