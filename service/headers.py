"""Security headers on every response; a Content-Security-Policy for the HTML pages.

The page keeps the API key in localStorage, where any injected script could read it: the policy
allows scripts and styles from this origin only (plus a per-response nonce for the docs page's
own inline script and style), and no other page may frame ours (clickjacking).
"""

from __future__ import annotations

import secrets

from flask import Flask, Response, g

# Every response: browsers must not guess a type (a JSON error rendered as HTML), and no URL with
# a query (which may carry an upload's name) leaks to another origin.
COMMON = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
# JSON, metrics, static files: nothing in them may load or frame anything.
API_POLICY = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'"


def page_policy(nonce: str) -> str:
    """The CSP of an HTML page: same-origin resources, blob:/data: images, the webcam, no framing."""
    return "; ".join(
        (
            "default-src 'self'",
            f"script-src 'self' 'nonce-{nonce}'",
            f"style-src 'self' 'nonce-{nonce}'",
            "img-src 'self' blob: data:",  # previews of uploads and webcam frames; the data: favicon
            "media-src 'self' blob: mediastream:",  # the webcam's <video>
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        )
    )


def csp_nonce() -> str:
    """This request's nonce for inline <script>/<style> (templates use it as {{ csp_nonce() }})."""
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(16)
    return g.csp_nonce


def _add_headers(response: Response) -> Response:
    """COMMON everywhere; the page policy on HTML, the locked-down one on everything else."""
    for name, value in COMMON.items():
        response.headers.setdefault(name, value)
    if response.mimetype == "text/html":
        response.headers["Content-Security-Policy"] = page_policy(csp_nonce())
        response.headers["X-Frame-Options"] = "DENY"  # browsers without frame-ancestors
        # The webcam is the only powerful feature the page uses, and only for itself.
        response.headers["Permissions-Policy"] = "camera=(self), microphone=(), geolocation=()"
    else:
        response.headers.setdefault("Content-Security-Policy", API_POLICY)
    return response


def init_app(app: Flask) -> None:
    """Register the header hook and the template helper."""
    app.after_request(_add_headers)
    app.jinja_env.globals["csp_nonce"] = csp_nonce
