"""Typed API errors, the one table that maps every stage error to HTTP, and the handlers that turn
every error into JSON."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, jsonify
from gunicorn.http.errors import NoMoreData, ParseException
from marshmallow import ValidationError
from werkzeug.exceptions import HTTPException

from service.stages import StageError
from service.stages import classify as cls
from service.stages import decode as dec
from service.stages import read as rd

log = logging.getLogger(__name__)


class ApiError(Exception):
    """An error with an HTTP status, a snake_case code and a message safe to show clients."""

    status_code = 400
    code = "bad_request"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        details: Any = None,
        retry_after: int | None = None,
        status_code: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.code
        self.status_code = status_code or self.status_code
        self.details = details
        self.retry_after = retry_after

    def to_dict(self) -> dict[str, Any]:
        """The {"code", "message"[, "details"]} body, also used for batch item errors."""
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details is not None:
            body["details"] = self.details
        return body


class BadImage(ApiError):
    """The bytes are not a decodable image."""

    code = "invalid_image"


class Unauthorized(ApiError):
    """Missing or wrong API key."""

    status_code, code = 401, "unauthorized"


class TooLarge(ApiError):
    """Upload, pixel count or item count over a configured limit."""

    status_code, code = 413, "payload_too_large"


class UnsupportedMedia(ApiError):
    """A content type or image format the service does not accept."""

    status_code, code = 415, "unsupported_media_type"


class Invalid(ApiError):
    """A request that fails schema validation."""

    status_code, code = 422, "validation_error"


class Unavailable(ApiError):
    """Not ready yet, shutting down, or overloaded: try again later."""

    status_code, code = 503, "unavailable"


class Timeout(ApiError):
    """Inference took longer than the configured timeout."""

    status_code, code = 504, "timeout"


# Each stage error as the API shows it: the ApiError class (status), the code if not the class's
# own, and Retry-After seconds. Only this table knows how a stage's failure looks over HTTP.
STAGE_ERRORS: dict[type[StageError], tuple[type[ApiError], str | None, int | None]] = {
    rd.UnsupportedContentType: (UnsupportedMedia, None, None),
    rd.InvalidJson: (BadImage, "invalid_json", None),
    rd.InvalidBase64: (BadImage, "invalid_base64", None),
    rd.ImageBodyTooLarge: (TooLarge, None, None),
    rd.TooManyItems: (TooLarge, "too_many_items", None),
    rd.MissingField: (Invalid, None, None),
    dec.NotAnImage: (BadImage, None, None),
    dec.UnsupportedImageFormat: (UnsupportedMedia, "unsupported_image_format", None),
    dec.ImageTooLarge: (TooLarge, None, None),
    dec.TooManyPixels: (TooLarge, "too_many_pixels", None),
    cls.NotReady: (Unavailable, "not_ready", 5),
    cls.Overloaded: (Unavailable, "overloaded", 1),
    cls.ShuttingDown: (Unavailable, "shutting_down", 5),
    cls.InferenceTimeout: (Timeout, None, None),
}


def api_error(error: StageError) -> ApiError:
    """The ApiError a stage error is shown as (STAGE_ERRORS); an unmapped one is a 500."""
    try:
        kind, code, retry_after = STAGE_ERRORS[type(error)]
    except KeyError:
        log.error("stage error %s has no HTTP mapping", type(error).__name__)
        return ApiError("internal server error", code="internal_error", status_code=500)
    return kind(error.message, code=code, details=error.details, retry_after=retry_after)


def item_error(error: StageError) -> dict[str, Any]:
    """A /predict/batch item that failed: {"error": {"code", "message"[, "details"]}}."""
    return {"error": api_error(error).to_dict()}


def error_response(error: ApiError) -> tuple[Response, int]:
    """The JSON response for an ApiError, with Retry-After when it has one."""
    response = jsonify(error=error.to_dict())
    if error.retry_after is not None:
        response.headers["Retry-After"] = str(error.retry_after)
    return response, error.status_code


def _http_error(exc: HTTPException) -> tuple[Response, int]:
    """Werkzeug errors (404, 405, 413, 429, ...) in the same JSON shape, keeping their headers."""
    status = exc.code or 500
    codes = {413: "payload_too_large", 429: "rate_limited"}
    code = codes.get(status) or (exc.name or "error").lower().replace(" ", "_").replace("'", "")
    message = exc.description or exc.name
    if status == 429:
        message = f"rate limit exceeded ({exc.description}); retry later"
    response = jsonify(error={"code": code, "message": message})
    for name, value in exc.get_headers():
        if name.lower() != "content-type":
            response.headers[name] = value
    return response, status


def _unreadable_body(exc: Exception) -> tuple[Response, int]:
    """gunicorn could not read the body the app asked for (bad chunk framing, client gone): 400."""
    log.info("unreadable request body: %s", exc)
    return error_response(ApiError(f"request body could not be read: {exc}", code="malformed_body"))


def _unexpected(exc: Exception) -> tuple[Response, int]:
    """Anything unforeseen: log the traceback, show the client nothing of it."""
    log.exception("unhandled error")
    return jsonify(error={"code": "internal_error", "message": "internal server error"}), 500


def init_app(app: Flask) -> None:
    """Register the JSON error handlers."""
    app.register_error_handler(ApiError, error_response)
    app.register_error_handler(StageError, lambda exc: error_response(api_error(exc)))
    app.register_error_handler(
        ValidationError,
        lambda exc: error_response(Invalid("request validation failed", details=exc.messages)),
    )
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(ParseException, _unreadable_body)
    app.register_error_handler(NoMoreData, _unreadable_body)
    app.register_error_handler(Exception, _unexpected)
