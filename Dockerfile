# CPU image of the emotion service: gunicorn + Flask, OpenVINO serving the baked-in SavedModel (converted
# at build time; bf16 where the CPU has AMX or AVX512_BF16), TensorFlow (CPU) for training and fallback.
#   docker build -t emotion-service:cpu .
#   docker run --rm -p 8000:8000 emotion-service:cpu
# Another model: mount it and point MODEL_DIR at it (TF-Serving layout <root>/<version>/saved_model.pb):
#   docker run --rm -p 8000:8000 -v "$PWD/models/emotion:/models/emotion:ro" -e MODEL_DIR=/models/emotion ...
# Packages come from PyPI. A mirror: --build-arg PIP_INDEX_URL=https://mirror.example/simple.
# Behind a TLS-inspecting proxy, hand pip its CA bundle as a build secret (never stored in a layer):
#   docker build --secret id=pip_cert,src=/etc/ssl/certs/ca-certificates.crt ...
# The `train` stage (docker build --target train) adds make and the sources for `make train`.

# ---- build: a virtualenv at /opt/venv with the third-party dependencies ------------------------------
FROM python:3.11.13-slim-bookworm AS build
ARG TF_EXTRA=cpu
ARG PIP_INDEX_URL=https://pypi.org/simple
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    TF_CPP_MIN_LOG_LEVEL=2
WORKDIR /src
RUN python3 -m venv /opt/venv
# Third-party packages first, from the lock file alone (make lock: exact versions and hashes, the
# ones the tests ran), so a code change reuses this (large) layer and two builds install the same.
COPY requirements/lock-${TF_EXTRA}.txt ./requirements.txt
RUN --mount=type=secret,id=pip_cert \
    if [ -s /run/secrets/pip_cert ]; then export PIP_CERT=/run/secrets/pip_cert; fi \
    && /opt/venv/bin/pip install --no-cache-dir --require-hashes -r requirements.txt

# ---- base: what the service and the train stage share; the project's packages run from /app ------------
FROM python:3.11.13-slim-bookworm AS base
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    TF_CPP_MIN_LOG_LEVEL=2 \
    MPLCONFIGDIR=/tmp/matplotlib \
    HOST=0.0.0.0 \
    PORT=8000 \
    MODEL_DIR=/app/models/emotion
RUN groupadd --gid 10001 app \
    && useradd --uid 10001 --gid app --home-dir /app --no-create-home --shell /usr/sbin/nologin app
COPY --from=build /opt/venv /opt/venv
WORKDIR /app

# ---- train: `make train` against a mounted data directory (compose profile `train`) --------------------
FROM base AS train
RUN apt-get update \
    && apt-get install -y --no-install-recommends make=4.3-4.1 \
    && rm -rf /var/lib/apt/lists/*
COPY Makefile pyproject.toml ./
COPY requirements requirements
COPY contract contract
COPY training training
# The venv is complete: make's `venv` prerequisite must find it up to date.
ENV VENV=/opt/venv HOME=/tmp
RUN touch /opt/venv/.installed
USER 10001:10001
ENTRYPOINT ["make"]
CMD ["train", "DATA_DIR=/data"]

# ---- runtime (default target): gunicorn serving the baked-in model as a non-root user -----------------
FROM base AS runtime
COPY gunicorn.conf.py deploy/healthcheck.py ./
COPY contract contract
COPY service service
COPY models/emotion models/emotion
# The baked-in model's OpenVINO conversion, keyed by its content hash, so no worker converts at startup;
# writable by the app user for compiled blobs and int8 builds (a mounted MODEL_DIR converts on first start).
ENV RUNTIME_CACHE_DIR=/var/cache/emotion-service
RUN python -m service.runtime.prepare --model-dir /app/models/emotion \
    && chown -R 10001:10001 /var/cache/emotion-service
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s --retries=3 CMD ["python", "/app/healthcheck.py"]
# Exec form: gunicorn is PID 1 and receives SIGTERM itself, so `docker stop` drains in-flight requests
# (GRACEFUL_TIMEOUT) before the engine's own stop timeout kills the container.
ENTRYPOINT ["gunicorn", "-c", "gunicorn.conf.py"]
CMD ["service.wsgi:app"]
