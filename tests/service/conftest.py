"""Fixtures of the service tests that parse requests without a server."""

from __future__ import annotations

import pytest
from flask import Flask

from service import errors


@pytest.fixture(scope="module")
def bare_app() -> Flask:
    """A Flask app with nothing but the error handlers: requests for the read stage to parse."""
    app = Flask(__name__)
    errors.init_app(app)
    return app


@pytest.fixture
def request_of(bare_app: Flask):
    """The Flask request built from test-client style arguments (an open request context)."""
    contexts = []

    def build(**kwargs):
        context = bare_app.test_request_context("/predict", method="POST", **kwargs)
        context.push()
        contexts.append(context)
        from flask import request

        return request

    yield build
    for context in reversed(contexts):
        context.pop()
