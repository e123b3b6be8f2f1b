"""benchmarks.ab: variants parse, rounds summarise, and a tiny A/B runs on real gunicorn."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.ab import parse_variant, paused, summarise

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("base=", ("base", {})),
        ("arenas=MALLOC_ARENA_MAX=64", ("arenas", {"MALLOC_ARENA_MAX": "64"})),
        (
            "two=INFERENCE_STREAMS=2,BATCH_MAX_WAIT_MS=0",
            ("two", {"INFERENCE_STREAMS": "2", "BATCH_MAX_WAIT_MS": "0"}),
        ),
        ("url=X=a=b", ("url", {"X": "a=b"})),
    ],
)
def test_variants_parse(text: str, parsed: tuple[str, dict[str, str]]) -> None:
    """name=KEY=VALUE,...; a value may itself hold '='."""
    assert parse_variant(text) == parsed


@pytest.mark.parametrize("text", ["base", "=X=1", "v=X", "v=X=1,Y"])
def test_bad_variants_are_refused(text: str) -> None:
    """A missing name, '=' or KEY=VALUE pair is a usage error, not a silent default."""
    with pytest.raises(argparse.ArgumentTypeError):
        parse_variant(text)


def test_rounds_summarise_per_variant_and_concurrency() -> None:
    """Mean, min and max over the rounds of one variant at one concurrency; absent ratios stay None."""
    row = {"cpu_ms": 5.0, "rss_mb": 300.0, "to_ceiling": None}
    rows = [
        {**row, "variant": "a", "concurrency": 32, "images_per_s": 100.0},
        {**row, "variant": "b", "concurrency": 32, "images_per_s": 90.0},
        {**row, "variant": "a", "concurrency": 32, "images_per_s": 120.0},
    ]
    a, b = summarise(rows)
    assert (a["variant"], a["rounds"], b["rounds"]) == ("a", 2, 1)
    assert a["images_per_s"] == {"mean": 110.0, "min": 100.0, "max": 120.0}
    assert a["to_ceiling"] is None


def test_paused_processes_are_stopped_then_continued() -> None:
    """A matching process is stopped inside the block and running again after it."""
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)  # ab-pause-probe"])
    try:
        with paused("ab-pause-probe") as pids:
            assert pids == [sleeper.pid]
            assert Path(f"/proc/{sleeper.pid}/stat").read_text().split()[2] == "T"
        assert Path(f"/proc/{sleeper.pid}/stat").read_text().split()[2] != "T"
    finally:
        sleeper.kill()


@pytest.mark.e2e
def test_a_tiny_ab_runs_end_to_end(tiny_model_dir: Path, tiny_dataset: Path, tmp_path: Path) -> None:
    """Two variants, two rounds, a ceiling each round: every row is there and the report is written."""
    command = [
        sys.executable, "-m", "benchmarks.ab",
        "--variant", "base=", "--variant", "nobatch=BATCHING=off",
        "--model-dir", str(tiny_model_dir), "--data-dir", str(tiny_dataset),
        "--payloads", "8", "--concurrency", "2", "--rounds", "2",
        "--duration", "0.4", "--warmup", "0.2", "--ceiling", "openvino/f32", "--out", str(tmp_path),
    ]  # fmt: skip
    subprocess.run(command, cwd=ROOT, check=True, capture_output=True, timeout=600)
    (report,) = tmp_path.glob("ab-*.json")
    results = json.loads(report.read_text())
    assert [(r["round"], r["variant"]) for r in results["rows"]] == [
        (0, "base"), (0, "nobatch"), (1, "base"), (1, "nobatch"),
    ]  # fmt: skip
    assert all(r["ceiling"] and r["rss_mb"] > 0 and r["errors"] == 0 for r in results["rows"])
    assert [s["rounds"] for s in results["summary"]] == [2, 2]
    assert "## Mean (min-max) per variant" in report.with_suffix(".md").read_text()
