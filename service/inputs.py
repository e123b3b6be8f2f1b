"""Image bytes out of a request: multipart upload, raw image body, or base64 in JSON."""

from __future__ import annotations

import base64
import binascii

from flask import Request

from service.errors import BadImage, Invalid, TooLarge, UnsupportedMedia
from service.schemas import BatchJson, ImageJson

SINGLE_FIELDS = ("image", "file")
BATCH_FIELD = "images"
ACCEPTED = "multipart/form-data, image/* (raw body) or application/json"


def _kind(request: Request) -> str:
    """'multipart', 'json' or 'raw' from the content type; 415 for anything else."""
    mimetype = request.mimetype
    if mimetype == "multipart/form-data":
        return "multipart"
    if mimetype == "application/json" or mimetype.endswith("+json"):
        return "json"
    if mimetype.startswith("image/") or mimetype == "application/octet-stream":
        return "raw"
    raise UnsupportedMedia(f"content type {mimetype or '(none)'!r} is not accepted; send {ACCEPTED}")


def _json_body(request: Request) -> object:
    """The parsed JSON body; 400 when it is not JSON at all."""
    try:
        body = request.get_json(silent=True)
    except RecursionError:  # nested deeper than the parser's recursion limit: not a request body
        raise BadImage("request body is nested too deeply", code="invalid_json") from None
    if body is None:
        raise BadImage("request body is not valid JSON", code="invalid_json")
    return body


def decode_base64(text: str, max_bytes: int) -> bytes:
    """Base64 (standard or URL-safe, optionally a data: URL) to bytes, size-checked first."""
    if text.startswith("data:"):
        text = text.partition(",")[2]
    if len(text) * 3 // 4 > max_bytes + 3:
        raise TooLarge(f"image is over the {max_bytes} byte limit")
    try:
        return base64.b64decode(text.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError):
        raise BadImage("image is not valid base64", code="invalid_base64") from None


def single_image(request: Request, max_bytes: int) -> bytes:
    """The one image of a /predict request."""
    kind = _kind(request)
    if kind == "raw":
        return request.get_data(cache=False)
    if kind == "json":
        return decode_base64(ImageJson().load(_json_body(request))["image"], max_bytes)
    for name in SINGLE_FIELDS:
        if name in request.files:
            return request.files[name].read()
    raise Invalid("multipart request has no image", details={"image": ["Missing file field 'image'."]})


def batch_images(request: Request, max_bytes: int, max_items: int) -> list[bytes | Exception]:
    """The images of a /predict/batch request, counted before any is decoded; bad base64 stays per item."""
    kind = _kind(request)
    if kind == "raw":
        raise UnsupportedMedia(f"a batch needs multipart field '{BATCH_FIELD}' or JSON {{'images': [...]}}")
    if kind == "json":
        body = _json_body(request)
        # Counted before validation: 100,000 bad items would otherwise get 100,000 error messages.
        if isinstance(body, dict) and isinstance(body.get(BATCH_FIELD), list):
            _check_count(len(body[BATCH_FIELD]), max_items)
        items: list = BatchJson().load(body)["images"]
    else:
        items = request.files.getlist(BATCH_FIELD)
        if not items:
            missing = f"Missing file field '{BATCH_FIELD}' (repeat it once per image)."
            raise Invalid("multipart request has no images", details={BATCH_FIELD: [missing]})
    _check_count(len(items), max_items)
    out: list[bytes | Exception] = []
    for item in items:
        try:
            out.append(decode_base64(item, max_bytes) if kind == "json" else item.read())
        except (BadImage, TooLarge) as exc:
            out.append(exc)
    return out


def _check_count(count: int, max_items: int) -> None:
    """413 too_many_items over the per-batch limit."""
    if count > max_items:
        raise TooLarge(f"{count} images is over the limit of {max_items} per batch", code="too_many_items")
