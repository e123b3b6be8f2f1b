"""The application factory: settings and model in, a ready Flask app out."""

from __future__ import annotations

import atexit
import logging

import cv2
from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from service import api, errors, headers, metrics, pages, pipeline, security
from service.limits import Limits
from service.model import Predictor, warm_up
from service.runtime import select
from service.settings import Settings
from service.video import api as video_api

log = logging.getLogger(__name__)


def configure_logging(level: str) -> None:
    """One log format for the app's own loggers (gunicorn keeps its own)."""
    logging.basicConfig(
        level=level.upper(), format="%(asctime)s [%(process)d] %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("service").setLevel(level.upper())


def create_app(settings: Settings | None = None, predictor: Predictor | None = None) -> Flask:
    """Build the app; loads MODEL_DIR unless a predictor is given. Raises ModelDirError if unusable."""
    settings = settings or Settings.from_env()
    configure_logging(settings.log_level)
    # Requests already run in parallel threads: OpenCV's own pool would only oversubscribe the cores.
    cv2.setNumThreads(1)
    # Warmed up and checked once, before the app exists, so no request can see a cold or broken model.
    if predictor is None:  # INFERENCE_BACKEND / INFERENCE_PRECISION decide what runs the model
        predictor = select.load_predictor(settings)
    else:
        warm_up(predictor)

    app = Flask(__name__, static_folder="static", static_url_path="/static")
    if settings.trusted_proxies:  # rate limits and logs then see the real client behind nginx
        app.wsgi_app = ProxyFix(
            app.wsgi_app,
            x_for=settings.trusted_proxies,  # type: ignore[method-assign]
            x_proto=settings.trusted_proxies,
        )
    # Any endpoint that sets no body limit of its own (the views set theirs) gets one image's.
    app.config["MAX_CONTENT_LENGTH"] = Limits.from_settings(settings).image_body_bytes(1)
    app.json.sort_keys = False  # type: ignore[attr-defined]  # probabilities keep the model's class order
    app.extensions["settings"] = settings

    errors.init_app(app)
    headers.init_app(app)
    app_metrics = metrics.init_app(app)
    security.init_app(app, settings)
    engine = pipeline.init_app(app, settings, predictor, app_metrics)
    api.init_app(app)
    video_api.init_app(app)  # POST /predict/video on the same engine and batcher
    pages.init_app(app)
    atexit.register(engine.close)  # the dev server and tests; gunicorn calls shutdown() from worker_exit
    runtime = engine.runtime
    log.info(
        "ready: model %s v%s on %s/%s x%d stream(s), detector %s on %s, batch size %d, wait %g ms",
        predictor.name,
        predictor.version,
        runtime["backend"],
        runtime["precision"],
        runtime["streams"],
        settings.detector,
        engine.faces.detector.runtime,
        settings.batch_max_size,
        settings.batch_max_wait_ms,
    )
    return app


def shutdown(app: Flask) -> None:
    """Stop taking work and let in-flight faces finish (gunicorn's worker_exit hook calls this)."""
    engine = app.extensions.get("engine")
    if engine is not None:
        engine.close()
