#!/usr/bin/env bash
# make container-test: prove the Docker path with podman on a machine without a Docker engine or a
# container registry. Builds the local base image from Debian packages, the CPU Dockerfile and an nginx
# stand-in; runs the image and checks /health, a real POST /predict, memory per worker and a graceful
# stop; trains a tiny model with the compose `train` profile and serves it from a mounted MODEL_DIR; then
# runs docker-compose.yml (api x2 behind nginx) with podman-compose and checks it through the load
# balancer. Needs root (apt, debootstrap, rootful podman). Slow: 5-20 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
IMAGE=${IMAGE:-emotion-service:cpu}
TRAIN_IMAGE=${TRAIN_IMAGE:-emotion-service:train}
LB_IMAGE=${LB_IMAGE:-nginx:1.28.0-bookworm}
REDIS_IMAGE=${REDIS_IMAGE:-redis:7.4.2-bookworm}
PORT=${CT_PORT:-18000}
LB_PORT=${CT_LB_PORT:-18080}
REPLICAS=${CT_REPLICAS:-2}
PROJECT=emotionct
CTR=emotionct-single
NICE=(nice -n 15)
COMPOSE=("$VENV/bin/podman-compose" -p "$PROJECT" -f docker-compose.yml)
export HTTP_PORT=$LB_PORT API_IMAGE=$IMAGE LB_IMAGE TRAIN_IMAGE REDIS_IMAGE

step() { printf '\n== %s %s\n' "$(date +%T)" "$*"; }
fail() { printf 'container-test: FAILED: %s\n' "$*" >&2; exit 1; }
compose_down() {  # podman-compose down misses replicas added by --scale: stop those by id first
    local ids
    ids=$(podman ps -aq --filter "label=io.podman.compose.project=$PROJECT")
    if [[ -n $ids ]]; then podman stop -t "$1" $ids >/dev/null 2>&1 || true; fi
    "${COMPOSE[@]}" down -t "$1" 2>&1 | grep -v "systemd" || true
}
cleanup() {
    podman rm -f -t 5 "$CTR" >/dev/null 2>&1 || true
    compose_down 10 >/dev/null 2>&1
    rm -rf "$work"
}
work=$(mktemp -d)
trap cleanup EXIT

wait_http() {  # URL SECONDS: until the URL answers 200
    local deadline=$((SECONDS + $2))
    until curl -fsS -o /dev/null "$1" 2>/dev/null; do
        ((SECONDS < deadline)) || return 1
        sleep 3
    done
}

rss_report() {  # CONTAINER: RSS and PSS of gunicorn's master and each worker, from the host's /proc
    local master pid
    master=$(podman inspect -f '{{.State.Pid}}' "$1")
    for pid in "$master" $(cat /proc/"$master"/task/*/children); do
        awk -v pid="$pid" -v role="$([[ $pid == "$master" ]] && echo master || echo worker)" \
            '/^Rss:/ {rss=$2} /^Pss:/ {pss=$2} END {printf "  %-6s pid %-7s RSS %4d MiB  PSS %4d MiB\n", role, pid, rss/1024, pss/1024}' \
            /proc/"$pid"/smaps_rollup
    done
    podman stats --no-stream --format '  container total (cgroup): {{.MemUsage}}' "$1"
}

face=${FACE:-$(ls ../shared/datasets/fer2013/test/happy/*.jpg 2>/dev/null | head -1 || true)}
if [[ -z $face ]]; then
    face=$work/face.png
    "$VENV/bin/python" -c "import sys; from tests.synthetic import encode, make_face
open(sys.argv[1], 'wb').write(encode(make_face(3, 96)))" "$face"
fi

step "podman setup"
deploy/podman-setup.sh
step "base image (debootstrap)"
"${NICE[@]}" deploy/base-image.sh
[[ -f gunicorn.conf.py && -f service/wsgi.py ]] || fail "gunicorn.conf.py or service/wsgi.py missing"

step "build $IMAGE from Dockerfile"
secret=()
cert=${PIP_CERT:-$("$VENV/bin/pip" config get global.cert 2>/dev/null || true)}
[[ -n $cert && -s $cert ]] && secret=(--secret "id=pip_cert,src=$cert")
"${NICE[@]}" podman build --format docker --pull=never "${secret[@]}" -t "$IMAGE" -f Dockerfile .
podman image inspect -f 'image: {{.Id}} {{.Size}} bytes, user {{.Config.User}}, entrypoint {{.Config.Entrypoint}}' "$IMAGE"
step "build $TRAIN_IMAGE (Dockerfile, target train)"
"${NICE[@]}" podman build --format docker --pull=never "${secret[@]}" --target train -t "$TRAIN_IMAGE" -f Dockerfile .

step "run $IMAGE (WORKERS=2, read-only root filesystem as in deploy/kubernetes)"
podman rm -f "$CTR" >/dev/null 2>&1 || true
podman run -d --name "$CTR" -p "127.0.0.1:$PORT:8000" -e WORKERS=2 --read-only --tmpfs /tmp:rw,size=1g \
    -e HOME=/tmp "$IMAGE" >/dev/null
started=$SECONDS
wait_http "http://127.0.0.1:$PORT/health" 300 || { podman logs "$CTR" | tail -40; fail "no healthy /health"; }
echo "ready after $((SECONDS - started)) s"
health=$(curl -fsS "http://127.0.0.1:$PORT/health")
echo "GET /health -> $health"
backend=$("$VENV/bin/python" -c 'import json, sys; print(json.loads(sys.argv[1])["runtime"]["backend"])' "$health")
[[ $backend == "${CT_EXPECT_BACKEND:-openvino}" ]] \
    || fail "the image serves with $backend, expected ${CT_EXPECT_BACKEND:-openvino} (INFERENCE_BACKEND=auto on a CPU)"
runtime_lines=$(podman logs "$CTR" 2>&1 | grep -c "inference runtime:" || true)
((runtime_lines >= 1)) || fail "no 'inference runtime:' line in the startup log"
podman healthcheck run "$CTR" && echo "image HEALTHCHECK: healthy"
echo "POST /predict ($face) ->"
curl -fsS -F "image=@$face" "http://127.0.0.1:$PORT/predict" | tee /tmp/container-test-predict.json
echo
"$VENV/bin/python" -c "import json, sys; r = json.load(open(sys.argv[1])); f = r['faces'][0];
print('label', f['label'], 'confidence', round(f['confidence'], 3), 'model', r['model'])" /tmp/container-test-predict.json
for path in / /static/app.js /docs /metadata /metrics; do
    curl -fsS -o /dev/null -w "GET $path -> %{http_code}, %{size_download} bytes\n" "http://127.0.0.1:$PORT$path" \
        || fail "GET $path"
done
burst_started=$SECONDS
seq 64 | xargs -P 16 -I{} curl -fsS -o /dev/null -F "image=@$face" "http://127.0.0.1:$PORT/predict" \
    || fail "concurrent /predict burst"
echo "64 POST /predict, 16 at a time: $((SECONDS - burst_started)) s, all 200"
echo "slow clients: 160 slow or idle connections (more than 2 workers x 32 threads) while 16 valid requests are sent"
"$VENV/bin/python" -m tests.reliability.slowclients "http://127.0.0.1:$PORT" --per-kind 32 --requests 16 \
    || fail "slow clients starved the image"
echo "memory (2 workers, after the burst):"
rss_report "$CTR"

step "graceful stop (SIGTERM to gunicorn, PID 1)"
stop_started=$SECONDS
podman stop -t 60 "$CTR" >/dev/null
echo "stopped in $((SECONDS - stop_started)) s, exit code $(podman inspect -f '{{.State.ExitCode}}' "$CTR")"
podman logs "$CTR" 2>&1 | tail -3
[[ $(podman inspect -f '{{.State.ExitCode}}' "$CTR") == 0 ]] || fail "gunicorn did not exit cleanly on SIGTERM"
podman rm "$CTR" >/dev/null

step "compose profile train: make train on a synthetic dataset into a mounted models dir"
mkdir -p "$work/data" "$work/models" "$work/runs"
"$VENV/bin/python" -c "import sys; from pathlib import Path; from tests.synthetic import make_dataset
make_dataset(Path(sys.argv[1]))" "$work/data"
chown -R 10001:10001 "$work/models" "$work/runs"
DATA_DIR=$work/data MODELS_DIR=$work/models RUNS_DIR=$work/runs \
    TRAIN_ARGS="--version 7 --epochs 1 --width 4 --depth 2 --dense-units 8 --batch-size 16 --tta none --run-dir runs/ct" \
    "${NICE[@]}" "${COMPOSE[@]}" --profile train run --rm train 2>&1 | grep -v systemd | tail -4
ls "$work"/models/emotion/7/saved_model.pb >/dev/null || fail "train profile wrote no SavedModel"
echo "trained: $(cd "$work/models" && ls -d emotion/*)"
podman run -d --name "$CTR" -p "127.0.0.1:$PORT:8000" -v "$work/models:/models:ro" -e MODEL_DIR=/models/emotion \
    "$IMAGE" >/dev/null
wait_http "http://127.0.0.1:$PORT/health" 300 || { podman logs "$CTR" | tail -40; fail "mounted model not served"; }
health=$(curl -fsS "http://127.0.0.1:$PORT/health")
echo "mounted MODEL_DIR=/models/emotion: GET /health -> $health"
[[ $health == *'"model_version":"7"'* ]] || fail "the mounted model (version 7) is not the one served"
curl -fsS -F "image=@$face" "http://127.0.0.1:$PORT/predict" | head -c 160; echo " ..."
podman stop -t 30 "$CTR" >/dev/null && podman rm "$CTR" >/dev/null

step "nginx stand-in $LB_IMAGE (Debian's nginx on the local base)"
case $LB_IMAGE in */*) lb_ref=$LB_IMAGE ;; *) lb_ref=docker.io/library/$LB_IMAGE ;; esac
if ! podman image exists "$lb_ref"; then
    "${NICE[@]}" podman build --format docker --pull=never -t "$lb_ref" -f deploy/nginx/standin.Containerfile deploy/nginx
fi

step "redis stand-in $REDIS_IMAGE (Debian's redis-server on the local base)"
case $REDIS_IMAGE in */*) redis_ref=$REDIS_IMAGE ;; *) redis_ref=docker.io/library/$REDIS_IMAGE ;; esac
if ! podman image exists "$redis_ref"; then
    "${NICE[@]}" podman build --format docker --pull=never -t "$redis_ref" -f deploy/redis/standin.Containerfile deploy/redis
fi

step "podman-compose up --scale api=$REPLICAS"
compose_down 10 >/dev/null
# A rate limit, so the replicas count in the compose redis service (checked below).
RATE_LIMIT=1000/minute "${COMPOSE[@]}" up -d --no-build --scale "api=$REPLICAS" 2>&1 | grep -v systemd
mapfile -t replicas < <(podman ps --filter "label=io.podman.compose.project=$PROJECT" \
    --filter "label=com.docker.compose.service=api" --format '{{.Names}}')
((${#replicas[@]} == REPLICAS)) || fail "expected $REPLICAS api containers, got ${replicas[*]:-none}"
deadline=$((SECONDS + 300))
for replica in "${replicas[@]}"; do  # podman without systemd runs healthchecks only on demand
    until podman healthcheck run "$replica" >/dev/null 2>&1; do
        ((SECONDS < deadline)) || { podman logs "$replica" | tail -30; fail "$replica never healthy"; }
        sleep 3
    done
    echo "$replica: healthy"
done
wait_http "http://127.0.0.1:$LB_PORT/health" 60 || fail "no /health through nginx"
echo "GET /health via nginx -> $(curl -fsS "http://127.0.0.1:$LB_PORT/health")"
for i in $(seq 1 $((REPLICAS * 4))); do
    curl -fsS -o /dev/null -w "POST /predict via nginx #$i -> %{http_code} in %{time_total}s\n" \
        -F "image=@$face" "http://127.0.0.1:$LB_PORT/predict"
done
lb=$(podman ps --filter "label=io.podman.compose.project=$PROJECT" \
    --filter "label=com.docker.compose.service=lb" --format '{{.Names}}')
served=$(podman logs "$lb" 2>&1 | grep '"POST /predict' | grep -o 'upstream=[0-9.:]*' | sort | uniq -c)
echo "requests per replica (nginx access log):"; echo "$served"
(($(wc -l <<<"$served") == REPLICAS)) || fail "nginx did not spread /predict over $REPLICAS replicas"
for replica in "${replicas[@]}"; do
    echo "$replica memory:"; rss_report "$replica"
done
redis=$(podman ps --filter "label=io.podman.compose.project=$PROJECT" \
    --filter "label=com.docker.compose.service=redis" --format '{{.Names}}')
keys=$(podman exec "$redis" redis-cli --scan | wc -l)
echo "rate-limit storage: redis container $redis, $keys key(s)"
((keys > 0)) || fail "the replicas did not count their rate limit in redis"
compose_down 40
echo
echo "container-test: PASSED in $SECONDS s"
