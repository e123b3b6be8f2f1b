"""API key check and rate limiting, both off unless configured."""

from __future__ import annotations

import hmac

from flask import Flask, request

from service.errors import Unauthorized
from service.settings import Settings

API_KEY_HEADER = "X-API-Key"
# Open without a key: probes and scrapers (health, metrics), and the pages that explain the API.
OPEN_ENDPOINTS = frozenset(
    {"api.health", "prometheus_metrics", "pages.index", "pages.docs", "pages.openapi", "static"}
)
# Only the work endpoints are rate limited; probes must never be refused.
LIMITED_PREFIXES = ("/predict", "/metadata", "/v1/")


def init_app(app: Flask, settings: Settings) -> None:
    """Require X-API-Key when API_KEY is set; apply RATE_LIMIT when set."""
    if settings.api_key:
        expected = settings.api_key.encode()

        @app.before_request
        def _check_api_key() -> None:
            """401 unless the X-API-Key header matches; open endpoints pass."""
            if request.endpoint in OPEN_ENDPOINTS or request.endpoint is None:
                return  # unknown URLs fall through to a plain 404
            given = request.headers.get(API_KEY_HEADER, "").encode()
            # compare_digest: the time taken does not reveal how much of the key matched.
            if not hmac.compare_digest(given, expected):
                raise Unauthorized(f"missing or wrong {API_KEY_HEADER} header")

    if settings.rate_limit:
        from flask_limiter import Limiter
        from flask_limiter.util import get_remote_address

        # memory:// is per worker: the effective limit is RATE_LIMIT x WORKERS (documented).
        # application_limits: one budget per client across the work endpoints (default_limits would
        # give each endpoint its own, multiplying the limit by their number).
        limiter = Limiter(
            get_remote_address,
            app=app,
            application_limits=[settings.rate_limit],
            headers_enabled=True,
            storage_uri="memory://",
            retry_after="delta-seconds",
        )
        limiter.request_filter(lambda: not request.path.startswith(LIMITED_PREFIXES))
        app.extensions["emotion_limiter"] = limiter
