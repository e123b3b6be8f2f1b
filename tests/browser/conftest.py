"""Browser tests: the page served by real gunicorn, driven by Debian's headless Chromium."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.browser.images import face_photo, write_images, write_y4m
from tests.browser.pages import API_KEY, screenshot
from tests.support.servers import serve

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
KEY_STORAGE = "emotion.apiKey"  # the localStorage entry app.js uses
CHROMIUM_ARGS = [
    "--no-sandbox",  # tests may run as root
    "--headless",
    "--disable-gpu",
    "--no-first-run",
    # Nothing may phone home: on a closed network those connections fail and slow startup.
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # A fake webcam that plays a file, and camera permission granted without a prompt.
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
]
# Chromium logs most CSP refusals itself; the event catches every one, whatever the browser logs.
CSP_REPORTER = """document.addEventListener("securitypolicyviolation", (e) =>
  console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI || "inline"}`));"""
_FAILED_LOAD = re.compile(r"Failed to load resource: the server responded with a status of (\d+)")


def _missing() -> str:
    """Why the browser tests cannot run here, or "" when they can."""
    if (
        importlib.util.find_spec("playwright") is None
        or importlib.util.find_spec("pytest_playwright") is None
    ):
        return "the playwright / pytest-playwright packages are not installed: run `make browser-deps`"
    if not (shutil.which(CHROMIUM) or Path(CHROMIUM).is_file()):
        return (
            f"no Chromium at {CHROMIUM}: run `make browser-deps` (apt-get install chromium "
            "chromium-driver) or set CHROMIUM=/path/to/chromium"
        )
    return ""


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip every browser test, with the reason, when Chromium or Playwright is missing."""
    reason = _missing()
    if reason:
        skip = pytest.mark.skip(reason=f"browser tests skipped: {reason}")
        for item in items:
            if item.get_closest_marker("browser"):
                item.add_marker(skip)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> pytest.TestReport:
    """Expose each phase's report on the item, so fixtures can react to a failed test."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture(scope="session")
def test_images(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Paths of the face, two-face, no-face and non-image files."""
    return write_images(tmp_path_factory.mktemp("browser_images"))


@pytest.fixture(scope="session")
def browser_type_launch_args(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """pytest-playwright hook: the system Chromium, and a fake webcam showing the face photo."""
    clip = write_y4m(tmp_path_factory.mktemp("webcam") / "face.y4m", face_photo())
    return {
        "executable_path": CHROMIUM,
        "headless": True,
        "args": [*CHROMIUM_ARGS, f"--use-file-for-fake-video-capture={clip}"],
    }


@pytest.fixture(scope="session")
def service_url(served_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of gunicorn serving the page and the API, with an API key required."""
    server = serve(served_model, tmp_path_factory.mktemp("gunicorn") / "gunicorn.log", API_KEY=API_KEY)
    yield server.url
    server.stop()


@pytest.fixture(scope="session")
def api(service_url: str) -> Iterator[httpx.Client]:
    """A plain HTTP client for the same service, to compare the page with the API's own answers."""
    with httpx.Client(base_url=service_url, headers={"X-API-Key": API_KEY}, timeout=30) as client:
        yield client


class ConsoleLog:
    """Console errors and uncaught exceptions of a page; HTTP errors a test expects are allowed."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.allowed_statuses: set[int] = set()

    def allow_status(self, *statuses: int) -> None:
        """The browser logs every 4xx/5xx response; accept these ones."""
        self.allowed_statuses.update(statuses)

    def unexpected(self) -> list[str]:
        """Errors other than the allowed HTTP statuses."""
        return [
            text
            for text in self.errors
            if not ((m := _FAILED_LOAD.search(text)) and int(m.group(1)) in self.allowed_statuses)
        ]


@pytest.fixture
def console() -> ConsoleLog:
    """The current test's console log (filled by open_page)."""
    return ConsoleLog()


@pytest.fixture
def open_page(service_url: str, context, console: ConsoleLog, request: pytest.FixtureRequest):
    """Open the page (with the API key saved unless with_key=False); asserts a clean console after."""
    pages = []

    def _open(*, with_key: bool = True, width: int = 1280, height: int = 900, path: str = "/"):
        if with_key:
            context.add_init_script(f"localStorage.setItem({KEY_STORAGE!r}, {API_KEY!r})")
        context.add_init_script(CSP_REPORTER)
        page = context.new_page()
        page.set_viewport_size({"width": width, "height": height})
        page.on("console", lambda msg: msg.type == "error" and console.errors.append(msg.text))
        page.on("pageerror", lambda exc: console.errors.append(f"uncaught: {exc}"))
        page.goto(service_url + path)
        page.wait_for_load_state("networkidle")
        pages.append(page)
        return page

    yield _open
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        for number, page in enumerate(pages):
            screenshot(page, f"FAILED-{request.node.name}-{number}")
    assert console.unexpected() == [], "errors in the browser console"
