"""API key check and rate limiting, both off unless configured."""

from __future__ import annotations

import hmac
import logging

from flask import Flask, request

from service.errors import Unauthorized, Unavailable
from service.settings import Settings

log = logging.getLogger(__name__)
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
        _init_rate_limit(app, settings)


def _init_rate_limit(app: Flask, settings: Settings) -> None:
    """RATE_LIMIT per client, counted in RATE_LIMIT_STORAGE; RATE_LIMIT_ON_ERROR when it is down."""
    from flask_limiter import Limiter
    from flask_limiter.util import get_remote_address

    storage = settings.rate_limit_storage
    # wrap_exceptions: any backend's failure is one limits.errors.StorageError. A Redis that does
    # not answer must cost a request a second at most, not hang it.
    options: dict = {"wrap_exceptions": True}
    if storage.startswith(("redis", "valkey")):
        options.update(socket_connect_timeout=1, socket_timeout=1)
    # memory:// is per worker: the effective limit is RATE_LIMIT x WORKERS x replicas (documented);
    # redis:// is one budget for all of them. application_limits: one budget per client across the
    # work endpoints (default_limits would give each endpoint its own, multiplying the limit).
    # swallow_errors: flask-limiter never raises on a storage failure (it logs it); a request whose
    # limit could not be checked then has no current_limit, which _fail_closed turns into a 503.
    limiter = Limiter(
        get_remote_address,
        app=app,
        application_limits=[settings.rate_limit],
        headers_enabled=True,
        storage_uri=storage,
        storage_options=options,
        swallow_errors=True,
        retry_after="delta-seconds",
    )
    limiter.request_filter(lambda: not request.path.startswith(LIMITED_PREFIXES))
    if settings.rate_limit_on_error == "closed":

        @app.before_request  # registered after the limiter's own check, so it runs after it
        def _fail_closed() -> None:
            """503 for a limited request whose budget could not be read from the storage."""
            if request.path.startswith(LIMITED_PREFIXES) and limiter.current_limit is None:
                log.warning(
                    "rate limit storage %s unreachable: refusing (RATE_LIMIT_ON_ERROR=closed)", storage
                )
                raise Unavailable("rate limiting is unavailable; retry later", retry_after=1)
