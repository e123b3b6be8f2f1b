"""A bounded closed-loop load generator for loopback tests (asyncio + httpx).

Unlike benchmarks/loadgen.py (throughput over a time window), this one checks every
answer against the status its request expects and classifies whatever else happened,
so a test can say exactly which requests failed and why.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx

# 503 codes the service documents as "retry later" (each carries Retry-After).
BACKPRESSURE = frozenset({"overloaded", "shutting_down", "not_ready"})


@dataclass(frozen=True)
class Shot:
    """One request template: where to send what, and the status a healthy service answers."""

    name: str
    path: str
    kwargs: dict[str, Any]
    expect: int = 200


@dataclass(frozen=True)
class Outcome:
    """What happened to one request; `kind` is ok, backpressure, refused, dropped or failed."""

    shot: str
    kind: str
    started: float
    ended: float
    detail: str = ""


@dataclass
class LoadResult:
    """Every outcome of a run, with the figures the reports need."""

    outcomes: list[Outcome] = field(default_factory=list)
    seconds: float = 0.0

    def count(self, *kinds: str) -> int:
        """Requests whose outcome is one of `kinds`."""
        return sum(outcome.kind in kinds for outcome in self.outcomes)

    def figures(self) -> dict[str, Any]:
        """requests, per-kind counts, 503 share and throughput, for RESULTS.md."""
        total = len(self.outcomes)
        kinds = Counter(outcome.kind for outcome in self.outcomes)
        return {
            "requests": total,
            **{kind: kinds.get(kind, 0) for kind in ("ok", "backpressure", "refused", "dropped", "failed")},
            "share_503": round(kinds.get("backpressure", 0) / max(total, 1), 4),
            "seconds": round(self.seconds, 1),
            "requests_per_s": round(total / max(self.seconds, 1e-9), 1),
        }

    def failures(self, limit: int = 5) -> list[Outcome]:
        """A few outcomes that are neither answered as expected nor backpressure, for assertion messages."""
        return [outcome for outcome in self.outcomes if outcome.kind not in ("ok", "backpressure")][:limit]


def classify(shot: Shot, response: httpx.Response) -> tuple[str, str]:
    """(kind, detail) for an answer: the expected status, documented 503 backpressure, or a failure."""
    if response.status_code == shot.expect:
        return "ok", ""
    if response.status_code == 503 and response.headers.get("Retry-After"):
        try:
            code = response.json()["error"]["code"]
        except (ValueError, KeyError, TypeError):
            code = ""
        if code in BACKPRESSURE:
            return "backpressure", code
    return "failed", f"{response.status_code} {response.text[:200]}"


async def _one(client: httpx.AsyncClient, shot: Shot) -> Outcome:
    """Send one request and classify whatever comes back (or doesn't)."""
    started = time.monotonic()
    try:
        response = await client.post(shot.path, **shot.kwargs)
        kind, detail = classify(shot, response)
    except httpx.ConnectError as exc:  # nobody listening: refused before any work was done
        kind, detail = "refused", type(exc).__name__
    except (httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError) as exc:  # connection cut
        kind, detail = "dropped", f"{type(exc).__name__}: {exc}"
    except httpx.TimeoutException as exc:
        kind, detail = "failed", f"timeout {type(exc).__name__}"
    return Outcome(shot.name, kind, started, time.monotonic(), detail)


async def _run(
    url: str,
    shots: list[Shot],
    *,
    total: int | None,
    duration: float | None,
    concurrency: int,
    timeout: float,
    keepalive: bool,
    milestones: dict[int, threading.Event],
) -> LoadResult:
    """C closed-loop workers share one request counter until `total` requests or `duration` s."""
    result, counter, cycle = LoadResult(), itertools.count(), itertools.cycle(shots)
    deadline = time.monotonic() + duration if duration else None
    limits = httpx.Limits(
        max_connections=concurrency, max_keepalive_connections=concurrency if keepalive else 0
    )

    async def worker(client: httpx.AsyncClient) -> None:
        """Send requests back to back until the budget is spent."""
        while (total is None or next(counter) < total) and (deadline is None or time.monotonic() < deadline):
            result.outcomes.append(await _one(client, next(cycle)))
            if event := milestones.get(len(result.outcomes)):
                event.set()

    started = time.monotonic()
    async with httpx.AsyncClient(base_url=url, timeout=timeout, limits=limits) as client:
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
    result.seconds = time.monotonic() - started
    return result


def run_load(
    url: str,
    shots: list[Shot],
    *,
    total: int | None = None,
    duration: float | None = None,
    concurrency: int = 64,
    timeout: float = 60.0,
    keepalive: bool = True,
    milestones: dict[int, threading.Event] | None = None,
) -> LoadResult:
    """Blocking entry point: `total` requests, or as many as fit in `duration` seconds."""
    if total is None and duration is None:
        raise ValueError("give total= or duration= so the load is bounded")
    run = _run(
        url,
        shots,
        total=total,
        duration=duration,
        concurrency=concurrency,
        timeout=timeout,
        keepalive=keepalive,
        milestones=milestones or {},
    )
    # A thread of its own: the caller's may already run an event loop (pytest-playwright's does).
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, run).result()
