"""What browser tests share besides fixtures: the API key the page is given, screenshots."""

from __future__ import annotations

from pathlib import Path

from tests.support.models import REPO

ARTIFACTS = REPO / "test-artifacts" / "browser"
API_KEY = "browser-test-key"


def screenshot(page, name: str) -> Path:
    """Save a full-page PNG under test-artifacts/browser/ and return its path."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
