"""Closed-loop HTTP load generator (asyncio, raw HTTP/1.1 keep-alive), a process beside the server.

python -m benchmarks.loadgen --url http://127.0.0.1:8000/predict --payloads DIR \
    --concurrency 1,8,32 --duration 10 --warmup 2  ->  one JSON document on stdout

Each of C workers sends the next image as soon as its previous answer arrived, on its own
keep-alive connection. The requests are prebuilt bytes and the answers are read straight off
the socket: on a 2-core machine the client shares the CPU with the server, and httpx spent
up to 0.7 of a core at concurrency 32, which the server then lacked (docs/benchmarks.md).
Like curl, requests and httpx, every request carries a new random multipart boundary (the
prebuilt bytes get it swapped in at send time; --same-boundary sends one for all): the server's
parser pays per new boundary, and one fixed boundary would hide that cost (docs/benchmarks.md).
Only answers that arrive inside the measured window (after the warm-up) count, for
throughput and latency alike. Requests still in flight when it closes are awaited but
not counted, so the server is idle again before the next run starts.
With --metrics-url and --server-pid it also records, per run, the service's mean
batch size (from its Prometheus histogram) and the CPU seconds the server used.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import numpy as np
import psutil

BOUNDARY = uuid.uuid4().hex
_BOUNDARY_BYTES = BOUNDARY.encode()


def fresh_boundary(request: bytes) -> bytes:
    """The prebuilt request with a new random boundary of the same length (so Content-Length holds)."""
    return request.replace(_BOUNDARY_BYTES, os.urandom(len(BOUNDARY) // 2).hex().encode())


def multipart_body(name: str, data: bytes, field: str = "image") -> bytes:
    """A multipart/form-data body with one file field, built once so the client spends no CPU on it."""
    head = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{field}"; filename="{name}"\r\n'
        f"Content-Type: image/jpeg\r\n\r\n"
    ).encode()
    return head + data + f"\r\n--{BOUNDARY}--\r\n".encode()


def load_bodies(folder: str | Path) -> list[bytes]:
    """Every file of the payload folder as a ready multipart body, in name order."""
    files = sorted(p for p in Path(folder).iterdir() if p.is_file())
    if not files:
        raise SystemExit(f"no payload files in {folder}")
    return [multipart_body(p.name, p.read_bytes()) for p in files]


def _faces(body: bytes) -> int:
    """Faces in a /predict answer (0 when the body is not the expected JSON)."""
    try:
        return len(json.loads(body).get("faces", []))
    except (ValueError, AttributeError):
        return 0


def requests_for(url: str, bodies: list[bytes]) -> list[bytes]:
    """Each body as a complete HTTP/1.1 POST (request line, headers, body), built once."""
    parts = urlsplit(url)
    head = (
        f"POST {parts.path or '/'}{'?' + parts.query if parts.query else ''} HTTP/1.1\r\n"
        f"Host: {parts.netloc}\r\nContent-Type: multipart/form-data; boundary={BOUNDARY}\r\n"
    )
    return [f"{head}Content-Length: {len(body)}\r\n\r\n".encode() + body for body in bodies]


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    """(status, body, keep_alive) of one HTTP/1.1 response: Content-Length or chunked bodies."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        chunks = []
        while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
            chunks.append(await reader.readexactly(size))
            await reader.readexactly(2)
        await reader.readuntil(b"\r\n")  # the empty trailer
        body = b"".join(chunks)
    else:
        body = await reader.readexactly(int(headers.get("content-length", "0")))
    return status, body, headers.get("connection", "").lower() != "close"


async def batch_totals(client: httpx.AsyncClient, metrics_url: str | None) -> tuple[float, float]:
    """(sum, count) of the service's batch-size histogram; zeros when there is none.

    Asynchronous on purpose: blocking the event loop here would leave request bodies half sent,
    and server threads blocked reading them could never answer this very request.
    """
    if not metrics_url:
        return 0.0, 0.0
    values = {"sum": 0.0, "count": 0.0}
    for line in (await client.get(metrics_url)).text.splitlines():
        name, _, value = line.partition(" ")
        for key in values:
            if name == f"emotion_batch_size_{key}":
                values[key] += float(value)
    return values["sum"], values["count"]


def server_cpu(pid: int | None) -> float:
    """User + system CPU seconds of a server process and its children so far (0 without a pid)."""
    if not pid:
        return 0.0
    try:
        master = psutil.Process(pid)
        return sum(sum(p.cpu_times()[:2]) for p in [master, *master.children(recursive=True)])
    except psutil.NoSuchProcess:
        return 0.0


async def _worker(
    url: str,
    requests: list[bytes],
    offset: int,
    until: float,
    timeout: float,
    records: list[tuple[float, float, int, str]],
    same_boundary: bool = False,
) -> None:
    """Send requests back to back until `until`; record (start, end, faces, error) of each answer."""
    parts = urlsplit(url)
    connection: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
    i = offset
    while (start := time.perf_counter()) < until:
        error, faces = "", 0
        try:
            if connection is None:
                connection = await asyncio.wait_for(
                    asyncio.open_connection(parts.hostname, parts.port or 80), timeout
                )
            reader, writer = connection
            request = requests[i % len(requests)]
            writer.write(request if same_boundary else fresh_boundary(request))
            status, body, keep_alive = await asyncio.wait_for(read_response(reader), timeout)
            if status == 200:
                faces = _faces(body)
            else:
                error = f"http_{status}"
            if not keep_alive:
                writer.close()
                connection = None
        except (
            OSError,
            asyncio.IncompleteReadError,
            asyncio.LimitOverrunError,
            TimeoutError,
            ValueError,
        ) as exc:
            error = type(exc).__name__
            if connection is not None:
                connection[1].close()
            connection = None
        records.append((start, time.perf_counter(), faces, error))
        i += 1
    if connection is not None:
        connection[1].close()


def summarise(
    records: list[tuple[float, float, int, str]],
    window: tuple[float, float],
    concurrency: int,
    cpu_seconds: float,
) -> dict[str, Any]:
    """Throughput, latency percentiles and errors of the answers that arrived inside the window."""
    inside = [r for r in records if window[0] <= r[1] < window[1]]
    ok = [r for r in inside if not r[3]]
    elapsed = window[1] - window[0]
    latencies = np.array([r[1] - r[0] for r in ok]) * 1000.0
    pct = (
        dict(
            zip(("p50", "p95", "p99"), np.percentile(latencies, [50, 95, 99]).round(1).tolist(), strict=True)
        )
        if len(latencies)
        else {"p50": None, "p95": None, "p99": None}
    )
    return {
        "concurrency": concurrency,
        "requests": len(inside),
        "ok": len(ok),
        "errors": len(inside) - len(ok),
        "error_kinds": dict(Counter(r[3] for r in inside if r[3])),
        "seconds": round(elapsed, 3),
        "requests_per_s": round(len(ok) / elapsed, 2),
        "images_per_s": round(len(ok) / elapsed, 2),
        "faces_per_s": round(sum(r[2] for r in ok) / elapsed, 2),
        "latency_ms": {
            **pct,
            "mean": round(float(latencies.mean()), 1) if len(latencies) else None,
            "max": round(float(latencies.max()), 1) if len(latencies) else None,
        },
        "client_cpu_s": round(cpu_seconds, 2),
    }


async def run_one(
    url: str,
    bodies: list[bytes],
    concurrency: int,
    duration: float,
    warmup: float,
    timeout: float,
    metrics_url: str | None,
    server_pid: int | None,
    same_boundary: bool = False,
) -> dict[str, Any]:
    """One closed-loop run at a fixed concurrency; the server is probed when the window opens and closes."""
    records: list[tuple[float, float, int, str]] = []
    requests = requests_for(url, bodies)
    async with httpx.AsyncClient(timeout=timeout) as side:

        async def probe() -> tuple[float, float, float]:
            """Batch-size histogram sum and count, and the server's CPU seconds (read first), now."""
            cpu = server_cpu(server_pid)
            return (*await batch_totals(side, metrics_url), cpu)

        until = time.perf_counter() + warmup + duration
        tasks = asyncio.gather(
            *(
                _worker(url, requests, i * 7, until, timeout, records, same_boundary)
                for i in range(concurrency)
            )
        )
        await asyncio.sleep(warmup)
        opened, before, cpu_before = time.perf_counter(), await probe(), sum(os.times()[:2])
        await asyncio.sleep(max(0.0, until - time.perf_counter()))
        closed, after, cpu = time.perf_counter(), await probe(), sum(os.times()[:2]) - cpu_before
        await tasks  # drain: answers after `closed` are not counted
    result = summarise(records, (opened, closed), concurrency, cpu)
    batch_sum, calls, server_cpu_s = (a - b for a, b in zip(after, before, strict=True))
    result.update(
        server_cpu_s=round(server_cpu_s, 2),
        model_calls=int(calls),
        mean_batch_size=round(batch_sum / calls, 2) if calls else None,
    )
    return result


def main(argv: list[str] | None = None) -> int:
    """CLI: run each concurrency in turn and print the results as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--payloads", required=True, help="folder of image files, sent round-robin")
    parser.add_argument("--concurrency", default="1,8,32,64", help="comma list")
    parser.add_argument("--duration", type=float, default=10.0, help="measured seconds per run")
    parser.add_argument("--warmup", type=float, default=2.0, help="discarded seconds before each run")
    parser.add_argument("--timeout", type=float, default=120.0, help="per-request timeout (s)")
    parser.add_argument("--metrics-url", help="the service's /metrics, for the batch-size histogram")
    parser.add_argument("--server-pid", type=int, help="gunicorn master pid, for the server's CPU time")
    parser.add_argument(
        "--same-boundary", action="store_true", help="one multipart boundary for every request"
    )
    args = parser.parse_args(argv)
    bodies = load_bodies(args.payloads)
    levels = [int(c) for c in args.concurrency.split(",") if c]
    results = [
        asyncio.run(
            run_one(
                args.url,
                bodies,
                c,
                args.duration,
                args.warmup,
                args.timeout,
                args.metrics_url,
                args.server_pid,
                args.same_boundary,
            )
        )
        for c in levels
    ]
    json.dump({"url": args.url, "payloads": len(bodies), "runs": results}, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
