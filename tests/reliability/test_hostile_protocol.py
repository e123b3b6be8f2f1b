"""Malformed HTTP against real gunicorn: every answer a documented 4xx JSON error, then a healthy worker.

Raw sockets send what no HTTP client library would (oversized request lines and headers, lying or
conflicting lengths, bad chunks, bad methods and versions, TLS bytes on a plain port), so the
oddities below Flask are answered by gunicorn's parser through service/worker.py's JSON error
writer. httpx sends the application-level ones (pathological JSON, absurd multipart, methods,
unknown paths). Nothing may answer 5xx or HTML; the next valid request succeeds on the same workers.
"""

from __future__ import annotations

import json
import socket

import httpx
import pytest

from benchmarks.server import worker_pids
from tests.support.checks import check_error, check_healthy
from tests.support.payloads import crop

GOOD = crop(3)

pytestmark = pytest.mark.e2e
HOST = b"Host: x\r\nConnection: close\r\n"
PNG = b"Content-Type: image/png\r\n"


def post(extra: bytes, body: bytes = b"") -> bytes:
    """A raw POST /predict with extra header lines."""
    return b"POST /predict HTTP/1.1\r\n" + HOST + extra + b"\r\n" + body


def chunked(body: bytes) -> bytes:
    """A raw chunked POST /predict with a PNG content type."""
    return post(PNG + b"Transfer-Encoding: chunked\r\n", body)


# name, raw request, status, code
RAW_CASES = [
    (
        "request-line-10k",
        b"GET /" + b"a" * 10_000 + b" HTTP/1.1\r\n" + HOST + b"\r\n",
        414,
        "request_line_too_long",
    ),
    (
        "header-9k",
        b"GET /health HTTP/1.1\r\n" + HOST + b"X-A: " + b"a" * 9000 + b"\r\n\r\n",
        431,
        "headers_too_large",
    ),
    (
        "200-headers",
        b"GET /health HTTP/1.1\r\n" + HOST + b"".join(b"X-%d: a\r\n" % i for i in range(200)) + b"\r\n",
        431,
        "headers_too_large",
    ),
    ("content-length-not-a-number", post(PNG + b"Content-Length: abc\r\n"), 400, "bad_request"),
    ("content-length-negative", post(PNG + b"Content-Length: -1\r\n"), 400, "bad_request"),
    (
        "content-length-twice",
        post(PNG + b"Content-Length: 3\r\nContent-Length: 4\r\n", b"abcd"),
        400,
        "bad_request",
    ),
    (
        "content-length-and-chunked",
        post(PNG + b"Content-Length: 3\r\nTransfer-Encoding: chunked\r\n", b"0\r\n\r\n"),
        400,
        "bad_request",
    ),
    ("transfer-encoding-gzip", post(PNG + b"Transfer-Encoding: gzip\r\n"), 400, "bad_request"),
    ("chunk-size-not-hex", chunked(b"zz\r\nab\r\n0\r\n\r\n"), 400, "malformed_body"),
    ("chunk-without-terminator", chunked(b"2\r\nabXX0\r\n\r\n"), 400, "malformed_body"),
    ("method-token-invalid", b"FOO@ / HTTP/1.1\r\n" + HOST + b"\r\n", 400, "bad_request"),
    ("http-version-9.9", b"GET /health HTTP/9.9\r\n" + HOST + b"\r\n", 400, "bad_request"),
    (
        "tls-on-plain-port",
        b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + b"x" * 50 + b"\r\n\r\n",
        400,
        "bad_request",
    ),
    ("nul-in-header", b"GET /health HTTP/1.1\r\n" + HOST + b"X-A: a\x00b\r\n\r\n", 400, "bad_request"),
    (
        "space-before-colon",
        b"GET /health HTTP/1.1\r\nHost : x\r\nConnection: close\r\n\r\n",
        400,
        "bad_request",
    ),
    (
        "obsolete-line-folding",
        b"GET /health HTTP/1.1\r\n" + HOST + b"X-A: a\r\n b\r\n\r\n",
        400,
        "bad_request",
    ),
    ("expect-unknown", post(b"Expect: 200-ok\r\nContent-Length: 0\r\n"), 417, "expectation_failed"),
    (
        "body-longer-than-content-length",  # the surplus is read as the next request: a bad request line
        b"POST /predict HTTP/1.1\r\nHost: x\r\n" + PNG + b"Content-Length: 3\r\n\r\nabcdefgh\r\n\r\n",
        400,
        "bad_request",
    ),
]


def exchange(url: str, data: bytes) -> list[tuple[int, dict, bytes]]:
    """Send raw bytes; every response until the server closes: (status, JSON body, head)."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=60) as sock:
        sock.sendall(data)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    responses = []
    while received:
        head, _, rest = received.partition(b"\r\n\r\n")
        length = int(
            next(line for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:"))[15:]
        )
        responses.append((int(head.split()[1]), json.loads(rest[:length]), head))
        received = rest[length:]
    return responses


@pytest.fixture
def client(live):
    """An HTTP client on the live server."""
    with httpx.Client(base_url=live.url, timeout=60) as http:
        yield http


@pytest.mark.parametrize(("name", "data", "status", "code"), RAW_CASES, ids=[case[0] for case in RAW_CASES])
def test_malformed_http_gets_a_json_4xx(live, client, name, data, status, code) -> None:
    """The documented status and JSON error (with nosniff) for each oddity, then a healthy worker."""
    pids = worker_pids(live)
    responses = exchange(live.url, data)
    got_status, body, head = responses[-1]
    assert all(400 <= answer[0] < 500 for answer in responses[1:]), responses
    assert (got_status, body["error"]["code"]) == (status, code), body
    assert body["error"]["message"] and b"application/json" in head and b"nosniff" in head
    check_healthy(client, live, pids)


def test_requests_before_a_malformed_one_on_the_connection_are_answered(live, client) -> None:
    """Pipelined: a good request, then garbage: 200, then 400 JSON, then the connection closes."""
    pids = worker_pids(live)
    responses = exchange(live.url, b"GET /health HTTP/1.1\r\nHost: x\r\n\r\nGARBAGE\r\n\r\n")
    assert [status for status, _, _ in responses] == [200, 400]
    check_healthy(client, live, pids)


def multipart(parts: list[tuple[bytes, bytes]]) -> bytes:
    """A multipart body with boundary BOUND from (part header, content) pairs."""
    body = b"".join(b"--BOUND\r\n%s\r\n\r\n%s\r\n" % part for part in parts)
    return body + b"--BOUND--\r\n"


def field(name: str, filename: str | None = None) -> bytes:
    """A Content-Disposition part header."""
    extra = f'; filename="{filename}"' if filename else ""
    return f'Content-Disposition: form-data; name="{name}"{extra}'.encode()


MULTIPART = {"Content-Type": "multipart/form-data; boundary=BOUND"}
JSON = {"Content-Type": "application/json"}
# name, path, body, headers, status, code
APP_CASES = [
    ("json-100000-deep-arrays", "/predict", b"[" * 100_000 + b"]" * 100_000, JSON, 400, "invalid_json"),
    (
        "json-5000-deep-objects",
        "/predict/batch",
        b'{"images": ' + b'{"a":' * 5000 + b"1" + b"}" * 5001,
        JSON,
        400,
        "invalid_json",
    ),
    ("json-900-deep-is-valid-json", "/predict", b"[" * 900 + b"]" * 900, JSON, 422, "validation_error"),
    ("json-5000-digit-integer", "/predict", b'{"image": ' + b"1" * 5000 + b"}", JSON, 400, "invalid_json"),
    ("json-latin-1-bytes", "/predict", b'{"image": "\xff\xfe"}', JSON, 400, "invalid_json"),
    ("json-utf-16", "/predict", '{"image": "AAAA"}'.encode("utf-16"), JSON, 400, "invalid_image"),
    ("json-lone-surrogate", "/predict", b'{"image": "\\ud800"}', JSON, 400, "invalid_base64"),
    ("json-nul-bytes", "/predict", b"\x00\x00\x00{", JSON, 400, "invalid_json"),
    ("json-truncated", "/predict", b'{"image": "AAAA"', JSON, 400, "invalid_json"),
    ("json-nan", "/predict", b'{"image": NaN}', JSON, 422, "validation_error"),
    (
        "json-200000-items",  # counted before validation: no megabytes of per-item errors
        "/predict/batch",
        json.dumps({"images": [1] * 200_000}).encode(),
        JSON,
        413,
        "too_many_items",
    ),
    (
        "multipart-5000-fields",
        "/predict",
        multipart([(field(f"f{i}"), b"x") for i in range(5000)]),
        MULTIPART,
        413,
        "payload_too_large",
    ),
    (
        "multipart-5000-files",
        "/predict/batch",
        multipart([(field("images", f"{i}.png"), b"x") for i in range(5000)]),
        MULTIPART,
        413,
        "payload_too_large",
    ),
    (
        "multipart-900-files",
        "/predict/batch",
        multipart([(field("images", f"{i}.png"), b"x") for i in range(900)]),
        MULTIPART,
        413,
        "too_many_items",
    ),
    (
        "multipart-900k-text-field",  # non-file fields are held in memory: werkzeug caps them
        "/predict",
        multipart([(field("note"), b"x" * 900_000), (field("image", "a.png"), GOOD)]),
        MULTIPART,
        413,
        "payload_too_large",
    ),
    (
        "multipart-unterminated",
        "/predict",
        b"--BOUND\r\n" + field("image", "a.png") + b"\r\n\r\nxx",
        MULTIPART,
        422,
        "validation_error",
    ),
    (
        "multipart-no-boundary",
        "/predict",
        b"abc",
        {"Content-Type": "multipart/form-data"},
        422,
        "validation_error",
    ),
]


@pytest.mark.parametrize(
    ("name", "path", "body", "headers", "status", "code"), APP_CASES, ids=[c[0] for c in APP_CASES]
)
def test_pathological_bodies_get_a_json_4xx(live, client, name, path, body, headers, status, code) -> None:
    """Pathological JSON (depth, size, encoding) and multipart (part counts, sizes): documented 4xx."""
    pids = worker_pids(live)
    check_error(client.post(path, content=body, headers=headers), status, code)
    check_healthy(client, live, pids)


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("DELETE", "/predict", 405, "method_not_allowed"),
        ("PUT", "/predict/batch", 405, "method_not_allowed"),
        ("PATCH", "/health", 405, "method_not_allowed"),
        ("TRACE", "/", 405, "method_not_allowed"),
        ("PROPFIND", "/metadata", 405, "method_not_allowed"),
        ("GET", "/predict", 405, "method_not_allowed"),
        ("GET", "/no-such-path", 404, "not_found"),
        ("POST", "/predict/", 404, "not_found"),
        ("GET", "/%ff%fe", 404, "not_found"),
        ("GET", "/static/../gunicorn.conf.py", 404, "not_found"),
        ("GET", "/static/%2e%2e/service/app.py", 404, "not_found"),
    ],
)
def test_unsupported_methods_and_unknown_paths(live, client, method, path, status, code) -> None:
    """405 with Allow, or 404, always as JSON."""
    pids = worker_pids(live)
    response = client.request(method, path)
    check_error(response, status, code)
    if status == 405:
        assert response.headers["Allow"]
    check_healthy(client, live, pids)
