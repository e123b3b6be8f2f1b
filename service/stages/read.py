"""Stage 1, read: the image bytes out of a request (multipart upload, raw image body, or base64 in JSON).

Nothing is decoded here; sizes and item counts are checked before the bytes are kept.
"""

from __future__ import annotations

import base64
import binascii

from flask import Request

from service.limits import Limits
from service.schemas import BatchJson, ImageJson
from service.stages import StageError
from service.stages.single_part import single_file

SINGLE_FIELDS = ("image", "file")
BATCH_FIELD = "images"
ACCEPTED = "multipart/form-data, image/* (raw body) or application/json"
FAST_PATH_MAX_BYTES = 1024 * 1024  # the worker keeps bodies up to this size in memory anyway


class ReadError(StageError):
    """The request does not carry images in a form this service reads."""


class UnsupportedContentType(ReadError):
    """A content type that carries no images (or no batch)."""


class InvalidJson(ReadError):
    """A JSON body that does not parse (or nests too deeply)."""


class InvalidBase64(ReadError):
    """An image field that is not base64."""


class ImageBodyTooLarge(ReadError):
    """A base64 image over the per-image byte limit, refused before decoding the base64."""


class TooManyItems(ReadError):
    """A batch with more images than MAX_BATCH_ITEMS."""


class MissingField(ReadError):
    """A multipart request without the file field; details name it."""


def limit_body(request: Request, limits: Limits, items: int) -> None:
    """Refuse a body over the limit for `items` images while it is read (413), before any parsing."""
    request.max_content_length = limits.image_body_bytes(items)


def _kind(request: Request) -> str:
    """'multipart', 'json' or 'raw' from the content type."""
    mimetype = request.mimetype
    if mimetype == "multipart/form-data":
        return "multipart"
    if mimetype == "application/json" or mimetype.endswith("+json"):
        return "json"
    if mimetype.startswith("image/") or mimetype == "application/octet-stream":
        return "raw"
    raise UnsupportedContentType(f"content type {mimetype or '(none)'!r} is not accepted; send {ACCEPTED}")


def _json_body(request: Request) -> object:
    """The parsed JSON body."""
    try:
        body = request.get_json(silent=True)
    except RecursionError:  # nested deeper than the parser's recursion limit: not a request body
        raise InvalidJson("request body is nested too deeply") from None
    if body is None:
        raise InvalidJson("request body is not valid JSON")
    return body


def decode_base64(text: str, max_bytes: int) -> bytes:
    """Base64 (standard or URL-safe, optionally a data: URL) to bytes, size-checked first."""
    if text.startswith("data:"):
        text = text.partition(",")[2]
    if len(text) * 3 // 4 > max_bytes + 3:
        raise ImageBodyTooLarge(f"image is over the {max_bytes} byte limit")
    try:
        return base64.b64decode(text.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidBase64("image is not valid base64") from None


def read_image(request: Request, limits: Limits) -> bytes:
    """The one image of a /predict request."""
    kind = _kind(request)
    if kind == "raw":
        return request.get_data(cache=False)
    if kind == "json":
        return decode_base64(ImageJson().load(_json_body(request))["image"], limits.image_bytes)
    if (part := _one_file_part(request)) is not None and part[0] in SINGLE_FIELDS:
        return part[1]
    for name in SINGLE_FIELDS:
        if name in request.files:
            return request.files[name].read()
    raise MissingField("multipart request has no image", details={"image": ["Missing file field 'image'."]})


def _one_file_part(request: Request) -> tuple[str, bytes] | None:
    """The single file part of a multipart body read without werkzeug's parser, if it is that simple.

    get_data keeps the body, so werkzeug can still parse it when this returns None. Bodies over
    FAST_PATH_MAX_BYTES go to werkzeug directly: the kept body plus the part's copy would hold
    a large upload in memory twice, where werkzeug spools its file to disk (and for a large
    image the per-boundary cost is small next to decoding it).
    """
    if not request.content_length or request.content_length > FAST_PATH_MAX_BYTES:
        return None
    try:
        boundary = request.mimetype_params.get("boundary", "").encode("ascii")
    except UnicodeEncodeError:
        return None
    return single_file(request.get_data(cache=True), boundary)


def read_images(request: Request, limits: Limits) -> list[bytes | ReadError]:
    """The images of a /predict/batch request, counted before any is read; bad base64 stays per item."""
    kind = _kind(request)
    if kind == "raw":
        raise UnsupportedContentType(
            f"a batch needs multipart field '{BATCH_FIELD}' or JSON {{'images': [...]}}"
        )
    if kind == "json":
        body = _json_body(request)
        # Counted before validation: 100,000 bad items would otherwise get 100,000 error messages.
        if isinstance(body, dict) and isinstance(body.get(BATCH_FIELD), list):
            _check_count(len(body[BATCH_FIELD]), limits.batch_items)
        items: list = BatchJson().load(body)["images"]
    else:
        items = request.files.getlist(BATCH_FIELD)
        if not items:
            missing = f"Missing file field '{BATCH_FIELD}' (repeat it once per image)."
            raise MissingField("multipart request has no images", details={BATCH_FIELD: [missing]})
    _check_count(len(items), limits.batch_items)
    out: list[bytes | ReadError] = []
    for item in items:
        try:
            out.append(decode_base64(item, limits.image_bytes) if kind == "json" else item.read())
        except ReadError as exc:
            out.append(exc)
    return out


def _check_count(count: int, max_items: int) -> None:
    """TooManyItems over the per-batch limit."""
    if count > max_items:
        raise TooManyItems(f"{count} images is over the limit of {max_items} per batch")
