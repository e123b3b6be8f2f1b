"""The sections of one benchmark run, in order: raw model, stages, serving (+ py-spy), training."""

from __future__ import annotations

import argparse
import dataclasses
import os
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks import machine
from benchmarks.report import derive
from benchmarks.workloads import face_crops, model_inputs, scenes, write_payloads

SECTIONS = ("raw", "accuracy", "stages", "serving", "training", "video")


@dataclass(frozen=True)
class Preset:
    """How long and how often each section measures."""

    raw_seconds: float = 3.0
    crops: int = 64
    scenes: int = 24
    stage_images: int = 6
    stage_repeats: int = 20
    concurrency: tuple[int, ...] = (1, 8, 32, 64)
    duration: float = 10.0
    warmup: float = 2.0
    profile_seconds: float = 10.0
    pipeline_images: int = 4096
    passes: int = 2
    steps: int = 20
    warmup_steps: int = 3
    video_seconds: float = 20.0
    video_repeats: int = 3
    accuracy_images: int = 0  # test images per runtime in the accuracy section (0 = the whole split)


FULL = Preset()
QUICK = Preset(
    raw_seconds=0.2,
    crops=16,
    scenes=6,
    stage_images=2,
    stage_repeats=3,
    concurrency=(1, 32),
    duration=1.5,
    warmup=0.5,
    profile_seconds=0.0,
    pipeline_images=256,
    passes=1,
    steps=2,
    warmup_steps=1,
    video_seconds=4.0,
    video_repeats=1,
    accuracy_images=256,
)


def guarded(errors: dict[str, str], section: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run one section; on failure keep the traceback under errors[section] and go on."""
    try:
        return fn(*args, **kwargs)
    except Exception:  # a broken section must not lose the others' numbers
        errors[section] = traceback.format_exc(limit=8)
        return None


def settings_block(args: argparse.Namespace, preset: Preset) -> dict[str, Any]:
    """What was measured with what: model version, data, config and the preset."""
    from contract.modeldir import read_metadata, resolve_version_dir

    version_dir = resolve_version_dir(args.model_dir)
    metadata = read_metadata(version_dir)
    workloads = {
        "a_crops": f"{preset.crops} test-split crops, sent as the original files",
        "b_scenes": f"{preset.scenes} 640x480 JPEG scenes: skimage astronaut and camera portraits, "
        "1-4 upscaled test crops on skimage coffee/rocket/chelsea/brick",
    }
    return {
        "model_dir": machine.display_path(version_dir),
        "model_version": metadata.get("version"),
        "tta": metadata.get("tta", "none"),
        "data_dir": machine.display_path(args.data_dir),
        "train_config": machine.display_path(args.config),
        "sections": args.sections,
        "preset": dataclasses.asdict(preset),
        "workloads": workloads,
    }


def run_sections(args: argparse.Namespace, preset: Preset, tmp: Path) -> dict[str, Any]:
    """Every requested section; failures land in results["errors"]."""
    wanted = set(args.sections.split(","))
    errors: dict[str, str] = {}
    results: dict[str, Any] = {
        "machine": machine.describe("quick" if args.quick else "full"),
        "settings": settings_block(args, preset),
        "errors": errors,
    }
    workloads = {
        "a_crops": face_crops(args.data_dir, preset.crops),
        "b_scenes": scenes(args.data_dir, preset.scenes),
    }

    def measure(key: str, fn: Callable[..., Any], *positional: Any, section: str = "", **kwargs: Any) -> None:
        """One section's result under results[key]; a failure is kept in errors[section or key]."""
        results[key] = guarded(errors, section or key, fn, *positional, **kwargs)

    calibration = str(args.data_dir / "train")  # int8 calibration, used only when no build is cached
    if "raw" in wanted:
        from benchmarks import raw_model, runtimes

        crops = model_inputs(workloads["a_crops"])
        measure(
            "raw_model", raw_model.run, args.model_dir, crops, section="raw", min_seconds=preset.raw_seconds
        )
        references = [  # other models' signatures on the same crops, for a speed-up from one run
            guarded(
                errors, f"raw_reference_{i}", raw_model.reference, ref, crops, min_seconds=preset.raw_seconds
            )
            for i, ref in enumerate(getattr(args, "reference_model_dir", None) or [])
        ]
        if references:
            results["raw_references"] = [r for r in references if r]
        runtime_args = {"min_seconds": preset.raw_seconds, "tmp": tmp, "calibration_dir": calibration}
        measure("runtimes", runtimes.run, args.model_dir, crops, **runtime_args)
    if "accuracy" in wanted:
        from benchmarks import accuracy

        limit = preset.accuracy_images
        measure(
            "accuracy", accuracy.run, args.model_dir, args.data_dir, calibration_dir=calibration, limit=limit
        )
    if "stages" in wanted:
        from benchmarks import stages

        # Evenly spaced, so a few scenes still mix portraits and multi-face compositions.
        picked = {
            k: v[:: max(1, len(v) // preset.stage_images)][: preset.stage_images]
            for k, v in workloads.items()
        }
        measure("stages", stages.run, args.model_dir, picked, preset.stage_repeats)
    if "serving" in wanted:
        folders = {k: write_payloads(tmp / k, v) for k, v in workloads.items()}

        def profile(name: str, server: Any) -> None:
            """py-spy the batching service while it is still up after its load runs."""
            if name == "service" and preset.profile_seconds > 0:
                measure("hotspots", profile_server, server, preset, folders, args.out)

        measure("serving", serve, args, preset, folders, tmp, profile)
    if "training" in wanted:
        from benchmarks import training_bench

        steps = {"passes": preset.passes, "steps": preset.steps, "warmup": preset.warmup_steps}
        images = preset.pipeline_images
        measure("training", training_bench.run, args.data_dir, args.config, pipeline_images=images, **steps)
    if "video" in wanted:
        from benchmarks import video_bench

        clip = {"seconds": preset.video_seconds, "repeats": preset.video_repeats, "work_dir": tmp / "video"}
        measure("video", video_bench.run, args.model_dir, **clip)
    results["derived"] = derive(results)
    results["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    return results


def serve(
    args: argparse.Namespace,
    preset: Preset,
    folders: dict[str, Path],
    tmp: Path,
    after_load: Callable[[str, Any], None],
) -> dict[str, Any]:
    """The load matrix over the three configurations."""
    from benchmarks import runtimes, serving

    return serving.run(
        args.model_dir,
        folders,
        concurrency=list(preset.concurrency),
        duration=preset.duration,
        warmup=preset.warmup,
        workers=args.workers,
        threads=args.threads,
        log_dir=tmp / "logs",
        after_load=after_load,
        default=runtimes.default_runtime(args.model_dir),
        int8_cached=runtimes.int8_cached(args.model_dir),
    )


def profile_server(server: Any, preset: Preset, folders: dict[str, Path], out: Path) -> list[dict[str, Any]]:
    """py-spy on the batching service under each workload at concurrency 32; raw stacks kept in out."""
    from benchmarks import hotspots

    if not hotspots.available():
        raise RuntimeError("py-spy is not installed (pip install py-spy)")
    return [
        hotspots.run(server, name, folder, 32, preset.profile_seconds, out)
        for name, folder in folders.items()
    ]
