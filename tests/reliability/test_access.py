"""Access control from the environment: API key on every work endpoint, per-client rate limits.

tests/service/test_api_errors.py covers the basics (401 on /predict and /metadata, open
probes, one client's 429); this adds every endpoint, the constant-time comparison, the
key check running before the upload is read, and separate budgets per client.
"""

from __future__ import annotations

import hmac
import io

import pytest

from service.app import create_app, shutdown
from service.settings import Settings
from tests.support.fakes import FakePredictor
from tests.support.payloads import b64
from tests.synthetic import encode, make_face

KEY = "k3y-of-some-length"
FACE = encode(make_face(3))
WORK = [
    ("post", "/predict", {"data": FACE, "content_type": "image/png"}),
    ("post", "/predict/batch", {"json": {"images": [b64(FACE)]}}),
    ("get", "/metadata", {}),
    ("get", "/v1/models/emotion", {}),
]
OPEN = ["/health", "/metrics", "/openapi.json", "/docs", "/"]


@pytest.fixture
def env_app():
    """Build apps from environment variables around a fake model; shut them down afterwards."""
    built = []

    def build(**env: str):
        built.append(create_app(Settings.from_env(env), FakePredictor()))
        return built[-1].test_client()

    yield build
    for app in built:
        shutdown(app)


@pytest.mark.parametrize(("method", "url", "kwargs"), WORK, ids=[w[1] for w in WORK])
@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-API-Key": KEY[:-1]},
        {"X-API-Key": KEY + "x"},
        {"X-API-Key": "ключ"},
        {"x-api-key": KEY.upper()},
    ],
    ids=["none", "prefix", "longer", "non-ascii", "wrong-case-value"],
)
def test_every_work_endpoint_needs_the_key(
    env_app, method: str, url: str, kwargs: dict, headers: dict
) -> None:
    """401 JSON for a missing or wrong key on each work endpoint; the right key passes."""
    client = env_app(API_KEY=KEY)
    refused = getattr(client, method)(url, headers=headers, **kwargs)
    assert refused.status_code == 401 and refused.json["error"]["code"] == "unauthorized"
    assert getattr(client, method)(url, headers={"X-API-Key": KEY}, **kwargs).status_code == 200


def test_probes_and_docs_stay_open(env_app) -> None:
    """Orchestrators and humans reach health, metrics and docs without the key."""
    client = env_app(API_KEY=KEY)
    assert [client.get(url).status_code for url in OPEN] == [200] * len(OPEN)


def post_stream(client, body: io.BytesIO, key: str):
    """POST /predict with this stream as the WSGI input (what gunicorn hands the app)."""
    return client.post(
        "/predict",
        input_stream=body,
        content_length=len(body.getvalue()),
        content_type="image/png",
        headers={"X-API-Key": key},
    )


def test_key_is_compared_in_constant_time_before_the_body_is_read(env_app, monkeypatch) -> None:
    """hmac.compare_digest decides, and a refused request's upload is never read from the socket."""
    client = env_app(API_KEY=KEY)
    compared = []
    real = hmac.compare_digest
    monkeypatch.setattr(hmac, "compare_digest", lambda a, b: compared.append((a, b)) or real(a, b))
    refused = io.BytesIO(FACE)
    assert post_stream(client, refused, "no").status_code == 401
    assert compared == [(b"no", KEY.encode())]
    assert refused.tell() == 0, "the body of a refused request was read"
    accepted = io.BytesIO(FACE)  # the same probe sees the read when the key is right
    assert post_stream(client, accepted, KEY).status_code == 200
    assert accepted.tell() == len(FACE)


def test_rate_limit_is_per_client(env_app) -> None:
    """Each client address has its own budget; over it: 429 JSON with Retry-After; probes never limited."""
    client = env_app(RATE_LIMIT="3/minute")

    def call(address: str):
        return client.post(
            "/predict", data=FACE, content_type="image/png", environ_base={"REMOTE_ADDR": address}
        )

    assert [call("10.0.0.1").status_code for _ in range(3)] == [200] * 3
    limited = call("10.0.0.1")
    assert limited.status_code == 429 and limited.json["error"]["code"] == "rate_limited"
    assert int(limited.headers["Retry-After"]) > 0
    assert call("10.0.0.2").status_code == 200  # another client is unaffected
    assert all(
        client.get("/health", environ_base={"REMOTE_ADDR": "10.0.0.1"}).status_code == 200 for _ in range(5)
    )


@pytest.mark.parametrize(("trusted", "expect_second_client"), [("1", 200), ("0", 429)])
def test_rate_limit_behind_a_proxy_uses_x_forwarded_for_only_when_trusted(
    env_app, trusted: str, expect_second_client: int
) -> None:
    """Behind nginx every request comes from the proxy: TRUSTED_PROXIES=1 keys on the real client."""
    client = env_app(RATE_LIMIT="1/minute", TRUSTED_PROXIES=trusted)

    def call(forwarded_for: str):
        return client.post(
            "/predict",
            data=FACE,
            content_type="image/png",
            headers={"X-Forwarded-For": forwarded_for},
            environ_base={"REMOTE_ADDR": "10.9.9.9"},  # the proxy
        )

    assert call("203.0.113.1").status_code == 200
    assert call("203.0.113.2").status_code == expect_second_client


def test_batch_and_metadata_share_the_budget(env_app) -> None:
    """Every work endpoint draws on the same per-client limit."""
    client = env_app(RATE_LIMIT="2/minute")
    assert client.get("/metadata").status_code == 200
    assert client.post("/predict/batch", json={"images": [b64(FACE)]}).status_code == 200
    assert client.get("/v1/models/emotion").status_code == 429
