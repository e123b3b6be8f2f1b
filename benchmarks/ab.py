"""A/B of service configurations on real gunicorn: alternating rounds, each beside a raw ceiling.

python -m benchmarks.ab --variant base= --variant arenas64=MALLOC_ARENA_MAX=64 \
    --workload crops --concurrency 8,32 --rounds 3 [--ceiling openvino/bf16] [--pause training.train]

On a shared host the same configuration moves by 10-20% from one minute to the next, so one run of
each says little (docs/benchmarks.md). Here every round starts each variant in turn (a fresh
server each time), drives it with the load generator, reads its worker RSS, and, with --ceiling,
first times that runtime in-process so each round's images/s can be read against the host's speed
at that moment. --pause stops the processes whose command line matches (SIGSTOP) for the whole
A/B and continues them after, as the training run was paused for the numbers in docs/.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from statistics import mean
from typing import Any

import numpy as np

from benchmarks import machine, runtimes, workloads
from benchmarks import server as srv
from benchmarks.markdown import machine_line, table
from benchmarks.report import save_named
from benchmarks.serving import loadgen

PAYLOADS = {"crops": workloads.face_crops, "scenes": workloads.scenes}


def parse_variant(text: str) -> tuple[str, dict[str, str]]:
    """ "name=KEY=VALUE,KEY2=VALUE2" (or "name=" for the defaults) -> (name, environment)."""
    name, sep, rest = text.partition("=")
    if not name or not sep:
        raise argparse.ArgumentTypeError(f"expected name=KEY=VALUE[,KEY=VALUE], got {text!r}")
    pairs = [p.partition("=") for p in rest.split(",") if p]
    if any(not key or not eq for key, eq, _ in pairs):
        raise argparse.ArgumentTypeError(f"{text!r}: each setting must be KEY=VALUE")
    return name, {key: value for key, _, value in pairs}


@contextmanager
def paused(pattern: str):
    """SIGSTOP every process whose command line matches pattern (not this one), SIGCONT after."""
    found = subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True, check=False).stdout
    pids = [int(p) for p in found.split() if int(p) != os.getpid()] if pattern else []
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    _settle(pids, stopped=True)  # signals arrive asynchronously: measure only once they are stopped
    try:
        yield pids
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGCONT)
        _settle(pids, stopped=False)


def _settle(pids: list[int], stopped: bool, timeout: float = 10.0) -> None:
    """Wait until each process is stopped (state T) or running again; gone ones are skipped."""
    deadline = time.monotonic() + timeout
    for pid in pids:
        while time.monotonic() < deadline:
            try:
                state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            except (OSError, IndexError):
                break
            if (state == "T") == stopped:
                break
            time.sleep(0.01)  # no event to wait on: /proc is polled


def summarise(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mean, min and max of images/s, its ratio to the round's ceiling, CPU per request and RSS,
    per variant and concurrency, in the order they first appear."""
    groups: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault((row["variant"], row["concurrency"]), []).append(row)

    def stats(values: list[float | None]) -> dict[str, float] | None:
        """Mean, min and max of the values present, None if none is."""
        present = [v for v in values if v is not None]
        if not present:
            return None
        return {"mean": round(mean(present), 2), "min": min(present), "max": max(present)}

    return [
        {
            "variant": variant,
            "concurrency": concurrency,
            "rounds": len(group),
            **{
                key: stats([r[key] for r in group])
                for key in ("images_per_s", "to_ceiling", "cpu_ms", "rss_mb")
            },
        }
        for (variant, concurrency), group in groups.items()
    ]


def ceiling(runtime: str, model_dir: Path, crops: np.ndarray, tmp: Path) -> float | None:
    """The runtime's best images/s in its own process on every core, now."""
    measured = runtimes.run(model_dir, crops, min_seconds=2.0, tmp=tmp, runtimes=(runtime,))
    return measured["runtimes"][runtime].get("ceiling_images_per_s")


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Every round: the ceiling (if asked), then each variant's server under load."""
    model_dir = Path(args.model_dir)
    tmp = Path(tempfile.mkdtemp(prefix="ab-"))
    payloads = workloads.write_payloads(
        tmp / args.workload, PAYLOADS[args.workload](args.data_dir, args.payloads)
    )
    # The ceiling times the runtime on test crops, as make bench's raw section does.
    crops = workloads.model_inputs(workloads.face_crops(args.data_dir, 128)) if args.ceiling else None
    concurrency = [int(c) for c in args.concurrency.split(",")]
    rows = []
    with paused(args.pause):
        described = machine.describe("ab")  # inside the pause: the load average says what else ran
        for round_index in range(args.rounds):
            top = ceiling(args.ceiling, model_dir, crops, tmp) if args.ceiling else None
            for name, env in args.variant:
                server = srv.start_service(tmp / f"{name}.log", {"MODEL_DIR": str(model_dir), **env})
                try:
                    runs = loadgen(
                        f"{server.url}/predict",
                        payloads,
                        concurrency,
                        args.duration,
                        args.warmup,
                        f"{server.url}/metrics",
                        server.process.pid,
                    )
                    rss = max(w["rss_mb"] for w in srv.memory(server)["workers"])
                finally:
                    server.stop()
                for r in runs:
                    rows.append(
                        {
                            "round": round_index,
                            "variant": name,
                            "concurrency": r["concurrency"],
                            "images_per_s": r["images_per_s"],
                            "ceiling": top,
                            "to_ceiling": round(r["images_per_s"] / top, 3) if top else None,
                            "cpu_ms": round(1000 * r["server_cpu_s"] / r["ok"], 2) if r.get("ok") else None,
                            "p99_ms": r["latency_ms"]["p99"],
                            "errors": r["errors"],
                            "rss_mb": rss,
                        }
                    )
                    print(rows[-1], flush=True)
    return {
        "machine": described,
        "model_dir": machine.display_path(model_dir),
        "workload": args.workload,
        "variants": dict(args.variant),
        "settings": {k: getattr(args, k) for k in ("rounds", "duration", "warmup", "ceiling", "pause")},
        "rows": rows,
        "summary": summarise(rows),
    }


def markdown(results: dict[str, Any]) -> str:
    """Rounds side by side, then the summary."""
    m = results["machine"]
    head = [
        f"# A/B: {', '.join(f'`{k}` {v or {}}' for k, v in results['variants'].items())}",
        "",
        f"{machine_line(m)} Workload {results['workload']}, {results['settings']}.",
        "",
    ]
    keys = (
        "round",
        "variant",
        "concurrency",
        "images_per_s",
        "ceiling",
        "to_ceiling",
        "cpu_ms",
        "p99_ms",
        "rss_mb",
    )
    rounds = table(list(keys), [[r[k] for k in keys] for r in results["rows"]])
    summary = table(
        ["variant", "conc.", "rounds", "images/s", "/ ceiling", "CPU ms/req", "worker RSS MiB"],
        [
            [
                s["variant"],
                s["concurrency"],
                s["rounds"],
                *(_spread(s[k]) for k in ("images_per_s", "to_ceiling", "cpu_ms", "rss_mb")),
            ]
            for s in results["summary"]
        ],
    )
    return "\n".join([*head, "## Rounds", "", *rounds, "## Mean (min-max) per variant", "", *summary])


def _spread(stats: dict[str, float] | None) -> str | None:
    """ "mean (min-max)"."""
    return None if stats is None else f"{stats['mean']} ({stats['min']}-{stats['max']})"


def main(argv: list[str] | None = None) -> int:
    """CLI: see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variant", type=parse_variant, action="append", required=True)
    parser.add_argument("--model-dir", default="models/emotion")
    parser.add_argument("--data-dir", default="../shared/datasets/fer2013")
    parser.add_argument("--workload", choices=sorted(PAYLOADS), default="crops")
    parser.add_argument("--payloads", type=int, default=400, help="distinct images sent round-robin")
    parser.add_argument("--concurrency", default="8,32")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=8.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument(
        "--ceiling", default="", help="runtime timed in-process each round, e.g. openvino/bf16"
    )
    parser.add_argument("--pause", default="", help="pause processes matching this (pgrep -f) meanwhile")
    parser.add_argument("--out", default="benchmarks/results")
    args = parser.parse_args(argv)
    results = run(args)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    save_named(results, markdown(results), Path(args.out), f"ab-{stamp}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
