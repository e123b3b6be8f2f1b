"""Run the benchmark suite and write benchmarks/results/{latest,<date>}.{json,md}.

python -m benchmarks.run [--quick] [--model-dir models/emotion] [--data-dir ../shared/datasets/fer2013]
    [--sections raw,stages,serving,training] [--workers 1] [--threads 32] [--concurrency 1,8,32,64] ...

Sections run one after another, never in parallel, so they don't share the cores.
A section that fails is recorded under "errors" and the exit code is 1.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

from benchmarks.machine import ROOT
from benchmarks.markdown import render
from benchmarks.report import write
from benchmarks.suite import FULL, QUICK, SECTIONS, Preset, run_sections


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options; anything not given comes from the full or quick preset."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short runs (< 2 min) to check everything works")
    parser.add_argument("--model-dir", type=Path, default=ROOT / "models" / "emotion")
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=ROOT.parent / "shared" / "datasets" / "fer2013",
        help="image folders with train/ and test/ (FER2013)",
    )
    parser.add_argument(
        "--config",
        type=Path,
        default=ROOT / "training" / "configs" / "fer2013.toml",
        help="training config whose model and pipeline are timed",
    )
    parser.add_argument(
        "--reference-model-dir",
        type=Path,
        action="append",
        help="another model (e.g. models/emotion/6) whose serving signature is timed on the same crops "
        "right after this one's, for a speed-up from one run (repeatable)",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--sections", default=",".join(SECTIONS), help="comma list of " + ",".join(SECTIONS))
    parser.add_argument("--workers", type=int, default=0, help="service WORKERS (0 = the service's auto)")
    parser.add_argument("--threads", type=int, default=32, help="service THREADS")
    parser.add_argument("--concurrency", help="comma list, e.g. 1,8,32,64")
    parser.add_argument("--duration", type=float, help="measured seconds per load run")
    parser.add_argument("--warmup", type=float, help="discarded seconds before each load run")
    parser.add_argument("--profile-seconds", type=float, help="py-spy the service for this long (0 = no)")
    parser.add_argument("--steps", type=int, help="timed training steps")
    args = parser.parse_args(argv)
    unknown = set(args.sections.split(",")) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown section(s): {', '.join(sorted(unknown))}")
    return args


def preset_for(args: argparse.Namespace) -> Preset:
    """The mode's preset with command-line overrides applied."""
    names = ("duration", "warmup", "profile_seconds", "steps")
    overrides: dict[str, Any] = {k: getattr(args, k) for k in names if getattr(args, k) is not None}
    if args.concurrency:
        overrides["concurrency"] = tuple(int(c) for c in args.concurrency.split(","))
    return dataclasses.replace(QUICK if args.quick else FULL, **overrides)


def main(argv: list[str] | None = None) -> int:
    """Run the chosen sections, print the Markdown report and write the result files."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    args = parse_args(argv)
    preset = preset_for(args)
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        results = run_sections(args, preset, Path(tmp))
    # From process start, so the imports (TensorFlow takes seconds) count too.
    results["elapsed_s"] = round(time.time() - psutil.Process().create_time(), 1)

    paths = write(results, args.out, "latest-quick" if args.quick else "latest")
    print(render(results))
    print("wrote " + ", ".join(str(p) for p in paths))
    for section, message in results["errors"].items():
        print(f"error in {section}:\n{message}", file=sys.stderr)
    return 1 if results["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
