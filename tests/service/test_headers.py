"""Security headers: nosniff and Referrer-Policy everywhere, a CSP on HTML that the docs page obeys."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from flask.testing import FlaskClient

from service.app import create_app, shutdown
from service.settings import Settings
from tests.support.fakes import FakePredictor

# Every kind of response: pages, JSON, errors from Flask and from the app, static files, metrics.
RESPONSES = [
    ("get", "/", 200),
    ("get", "/docs", 200),
    ("get", "/health", 200),
    ("get", "/openapi.json", 200),
    ("get", "/static/app.js", 200),
    ("get", "/metrics", 200),
    ("get", "/no-such-page", 404),
    ("delete", "/predict", 405),
    ("post", "/predict", 415),
]
HTML = {"/", "/docs"}


@pytest.fixture(scope="module")
def client() -> Iterator[FlaskClient]:
    """The app around a fake model."""
    app = create_app(Settings(), FakePredictor())
    yield app.test_client()
    shutdown(app)


@pytest.mark.parametrize(("method", "path", "status"), RESPONSES, ids=[f"{m} {p}" for m, p, _ in RESPONSES])
def test_every_response_has_the_common_headers(client: FlaskClient, method: str, path: str, status: int):
    response = getattr(client, method)(path)
    assert response.status_code == status
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    policy = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in policy
    if path in HTML:
        assert "script-src 'self' 'nonce-" in policy and "img-src 'self' blob: data:" in policy
        assert response.headers["X-Frame-Options"] == "DENY"
        assert "camera=(self)" in response.headers["Permissions-Policy"]
    else:
        assert policy.startswith("default-src 'none'")


def test_docs_inline_script_and_style_carry_this_responses_nonce(client: FlaskClient) -> None:
    """The docs page's own inline code runs under the CSP; another response gets another nonce."""
    first, second = client.get("/docs"), client.get("/docs")
    nonce = re.search(r"'nonce-([^']+)'", first.headers["Content-Security-Policy"]).group(1)
    html = first.get_data(as_text=True)
    assert f'<script nonce="{nonce}">' in html and f'<style nonce="{nonce}">' in html
    assert nonce not in second.headers["Content-Security-Policy"]


def test_policy_has_no_unsafe_sources(client: FlaskClient) -> None:
    """No 'unsafe-inline'/'unsafe-eval'/wildcards: injected markup cannot run script."""
    policy = client.get("/").headers["Content-Security-Policy"]
    assert "unsafe" not in policy and "*" not in policy
