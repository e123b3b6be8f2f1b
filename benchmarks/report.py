"""Results -> derived ratios and target checks -> JSON and a Markdown report (latest + dated copies)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from benchmarks.markdown import render
from benchmarks.targets import TARGET, WORKLOADS


def _rate(rows: list[dict], config: str, workload: str, concurrency: int) -> dict | None:
    """The serving row for one configuration, workload and concurrency."""
    return next(
        (
            r
            for r in rows
            if (r["config"], r["workload"], r["concurrency"]) == (config, workload, concurrency)
        ),
        None,
    )


def _ratio(a: float | None, b: float | None) -> float | None:
    """a / b rounded, None when either is missing or b is zero."""
    return round(a / b, 2) if a is not None and b else None


def derive(results: dict[str, Any]) -> dict[str, Any]:
    """Service / raw ceiling, batching on / off, service / naive and / TensorFlow service, and the targets.

    The ceiling is that of the runtime the service uses by default (the runtimes section), else
    the TensorFlow signature's.
    """
    rows = (results.get("serving") or {}).get("rows", [])
    ceiling = (results.get("runtimes") or {}).get("default_ceiling_images_per_s") or (
        results.get("raw_model") or {}
    ).get("ceiling_images_per_s")
    ratios = []
    for workload in WORKLOADS:
        for c in sorted({r["concurrency"] for r in rows if r["workload"] == workload}):
            on, off, naive, tf, native, streams2 = (
                _rate(rows, k, workload, c)
                for k in (
                    "service",
                    "service_no_batching",
                    "naive",
                    "service_tensorflow",
                    "service_detector_native",
                    "service_streams2",
                )
            )
            value = on["images_per_s"] if on else None
            ratios.append(
                {
                    "workload": workload,
                    "concurrency": c,
                    "service_images_per_s": value,
                    "service_to_ceiling": _ratio(value, ceiling),
                    "batching_on_to_off": _ratio(value, off and off["images_per_s"]),
                    "service_to_naive": _ratio(value, naive and naive["images_per_s"]),
                    "service_to_tensorflow": _ratio(value, tf and tf["images_per_s"]),
                    "service_to_detector_native": _ratio(value, native and native["images_per_s"]),
                    "service_to_streams2": _ratio(value, streams2 and streams2["images_per_s"]),
                }
            )
    targets = _targets(rows, "service", ceiling)
    # The same service on another OpenVINO precision (service_int8: what `make quantize` makes the
    # default once its gate passes; service_bf16 beside an int8 default: what a fresh clone serves),
    # each against its own runtime's ceiling.
    measured = (results.get("runtimes") or {}).get("runtimes") or {}
    variants = {
        config: _targets(rows, config, (measured.get(runtime) or {}).get("ceiling_images_per_s"))
        for config, runtime in _precision_configs(rows).items()
    }
    raw_ceiling = (results.get("raw_model") or {}).get("ceiling_images_per_s")
    return {
        "ratios": ratios,
        "targets": targets,
        "variant_targets": {k: v for k, v in variants.items() if v},
        # This model's signature ceiling over each reference's, same crops, same run.
        "raw_speedup_over_reference": {
            ref["version"]: _ratio(raw_ceiling, ref["ceiling_images_per_s"])
            for ref in results.get("raw_references", [])
        },
    }


def _precision_configs(rows: list[dict]) -> dict[str, str]:
    """service_<precision> configurations in the rows -> their runtime ("openvino/<precision>")."""
    names = {r["config"] for r in rows}
    return {f"service_{p}": f"openvino/{p}" for p in ("int8", "bf16", "f32") if f"service_{p}" in names}


def _targets(rows: list[dict], config: str, ceiling: float | None) -> dict[str, Any] | None:
    """The issue's goals for one service configuration: crops at the target concurrency against the
    ceiling, the naive app and the TensorFlow service; its photos' p99; no errors."""
    at = (TARGET["workload"], TARGET["concurrency"])
    target_row = _rate(rows, config, *at)
    if not target_row:
        return None
    value = target_row["images_per_s"]
    naive, tf = (_rate(rows, k, *at) for k in ("naive", "service_tensorflow"))
    checks = {
        "service_to_ceiling": (_ratio(value, ceiling), TARGET["min_ceiling_ratio"]),
        "service_to_naive": (_ratio(value, naive and naive["images_per_s"]), TARGET["min_naive_ratio"]),
        "service_to_tensorflow": (_ratio(value, tf and tf["images_per_s"]), TARGET["min_tensorflow_ratio"]),
    }
    targets = {
        name: {"value": v, "goal": f">= {g}", "met": None if v is None else v >= g}
        for name, (v, g) in checks.items()
        if v is not None or name != "service_to_tensorflow"
    }
    photos = TARGET["photos"]
    photo_row = _rate(rows, config, photos["workload"], photos["concurrency"])
    if photo_row and photo_row["latency_ms"]["p99"] is not None:
        p99 = photo_row["latency_ms"]["p99"]
        targets[f"photos_c{photos['concurrency']}_p99_ms"] = {
            "value": p99,
            "goal": f"<= {photos['max_p99_ms']:g}",
            "met": p99 <= photos["max_p99_ms"],
        }
    targets["errors"] = {"value": target_row["errors"], "goal": "0", "met": target_row["errors"] == 0}
    return targets


def save_named(results: dict[str, Any], markdown: str, out_dir: Path, name: str) -> None:
    """<name>.json and <name>.md of a side benchmark (photo accuracy, detector sizes), then print it."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"{name}.json").write_text(json.dumps(results, indent=2) + "\n")
    (out_dir / f"{name}.md").write_text(markdown)
    print(markdown)


def write(results: dict[str, Any], out_dir: Path, latest_name: str) -> list[Path]:
    """Write <stamp>.json/.md and <latest_name>.json/.md; returns the paths written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = results["machine"]["stamp"] + ("-quick" if results["machine"]["mode"] == "quick" else "")
    text, markdown = json.dumps(results, indent=2) + "\n", render(results)
    paths = []
    for name in (stamp, latest_name):
        for suffix, content in ((".json", text), (".md", markdown)):
            path = out_dir / f"{name}{suffix}"
            path.write_text(content)
            paths.append(path)
    return paths
