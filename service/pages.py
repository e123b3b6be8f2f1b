"""Human-facing routes: the web page at /, the API docs page and /openapi.json."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Flask, jsonify, render_template, request, send_from_directory, url_for
from flask.typing import ResponseReturnValue

from service.openapi import build_spec

bp = Blueprint("pages", __name__)
STATIC_DIR = Path(__file__).resolve().parent / "static"
_FALLBACK_INDEX = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Emotion API</title></head><body><h1>Facial emotion recognition</h1>
<p>See the <a href="docs">API docs</a> or
<a href="openapi.json">openapi.json</a>.</p></body></html>"""


@bp.get("/")
def index() -> ResponseReturnValue:
    """The web page when it is installed, else a link to the docs."""
    if (STATIC_DIR / "index.html").is_file():
        return send_from_directory(STATIC_DIR, "index.html", max_age=0)
    return _FALLBACK_INDEX, 200, {"Content-Type": "text/html; charset=utf-8"}


@bp.get("/docs")
def docs() -> ResponseReturnValue:
    """A self-contained page rendering /openapi.json."""
    return render_template("docs.html", spec_url=url_for("pages.openapi"), base_url=request.host_url)


@bp.get("/openapi.json")
def openapi() -> ResponseReturnValue:
    """The OpenAPI document generated from the marshmallow schemas."""
    return jsonify(build_spec())


def init_app(app: Flask) -> None:
    """Register the pages; /static/ serves service/static/ (Flask's own static route)."""
    app.register_blueprint(bp)
