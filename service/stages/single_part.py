"""The one-file multipart body that curl -F, requests and httpx send, read without werkzeug's parser.

werkzeug compiles two regular expressions for every new boundary, and clients draw a new random
boundary for every request: 0.22 ms of CPU per upload here, about a tenth of the whole Python
path of a /predict request (docs/benchmarks.md). A body that is exactly one part with a filename
is read here with `bytes.find`; anything else (a preamble, a second part, a boundary string
inside the content, bare-LF line breaks, header continuations, headers other than
Content-Disposition and Content-Type) returns None, and werkzeug's full parser reads the
request as before. So this path only ever accepts bodies werkzeug reads the same way
(tests/service/test_single_part.py checks that against werkzeug on generated bodies).
"""

from __future__ import annotations

from werkzeug.http import parse_options_header

MAX_HEAD_BYTES = 8 * 1024  # the part's header block; a longer one goes to werkzeug
ALLOWED_HEADERS = frozenset({"content-disposition", "content-type"})


def single_file(body: bytes, boundary: bytes) -> tuple[str, bytes] | None:
    """(field name, file bytes) when `body` is one multipart file part, else None."""
    if not boundary:
        return None
    delimiter = b"--" + boundary
    opening = delimiter + b"\r\n"
    if not body.startswith(opening):
        return None  # a preamble, trailing whitespace or another line break after the boundary
    head_end = body.find(b"\r\n\r\n", len(opening) - 2, len(opening) + MAX_HEAD_BYTES)
    if head_end < 0:
        return None
    start = head_end + 4
    # The first boundary string after the opening one must be the closing delimiter, ending
    # the body (optionally with one CRLF): werkzeug also splits on "--boundary" after a bare CR
    # or LF, so any other occurrence, wherever it is, sends the body to werkzeug.
    close = body.find(delimiter, len(opening))
    if close < start + 2 or body[close - 2 : close] != b"\r\n":
        return None
    if body[close + len(delimiter) :] not in (b"--", b"--\r\n"):
        return None
    name = _file_field(body[len(opening) : head_end])
    if name is None:
        return None
    return name, body[start : close - 2]


def _file_field(head: bytes) -> str | None:
    """The field name of a part header block naming a file, or None if the block is unusual."""
    unbroken = head.replace(b"\r\n", b"")
    if b"\r" in unbroken or b"\n" in unbroken:
        return None  # bare CR or LF: werkzeug's line splitting differs
    try:
        lines = head.decode().split("\r\n")
    except UnicodeDecodeError:
        return None
    disposition = None
    for line in lines:
        if not line or line[0] in " \t":
            return None  # an empty line or a continued header
        key, colon, value = line.partition(":")
        key = key.strip(" \t").lower()
        if not colon or key not in ALLOWED_HEADERS:
            return None
        if key == "content-disposition":
            if disposition is not None:
                return None
            disposition = value.strip(" \t")
    if disposition is None:
        return None
    kind, options = parse_options_header(disposition)
    name, filename = options.get("name"), options.get("filename")
    if kind != "form-data" or not name or filename is None:
        return None
    return name
