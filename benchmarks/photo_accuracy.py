"""Scene benchmark: accuracy on photos through the real service vs on the same faces as crops.

python -m benchmarks.photo_accuracy [--model-dir models/emotion] [--data-dir ../shared/datasets/fer2013]
    [--faces 500] [--variants default,legacy,align] [--out benchmarks/results]
    [--compare-model-dir OTHER ...]   (other models, as committed, on the same faces and scenes)

FER2013 *test* faces are pasted into real background photos (training.scenes) at 64, 128
and 256 px with rolls up to +-15 degrees, JPEG-encoded and posted to /predict of gunicorn
running the production config; the top face (the first in the answer) counts, a photo with
no face counts as wrong. The same faces, posted as the 48x48 files, give the crop accuracy
of the same path. Each variant is the same SavedModel served with another crop policy in
its metadata.json (a temporary version folder whose files link to the model's own):
  default  the model as committed
  legacy   contract.crop.LEGACY (how every model was served before the calibration)
  align    the model's policy with eye-line alignment switched on/off (the A/B)
  calibrated, calibrated-no-align   contract.crop.CALIBRATED with and without alignment
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import cv2
import httpx
import numpy as np

from benchmarks import machine, server, stats
from benchmarks.report import save_named
from contract.crop import CALIBRATED, LEGACY, policy_from_metadata
from contract.modeldir import read_metadata, resolve_version_dir
from training.scenes import MAX_ANGLE, scenes, to_jpeg

SIDES = (64, 128, 256)
GOAL = 0.97  # through-service accuracy / crop accuracy, at every size


def test_faces(data_dir: Path, count: int, seed: int = 0) -> tuple[list[Path], list[str]]:
    """`count` FER2013 test files drawn at random (seeded), with their class names."""
    files = sorted((Path(data_dir) / "test").glob("*/*"))
    picks = np.random.default_rng(seed).choice(len(files), size=min(count, len(files)), replace=False)
    chosen = [files[i] for i in sorted(picks)]
    return chosen, [p.parent.name for p in chosen]


def variant_dir(version_dir: Path, policy: dict[str, Any] | None, root: Path, name: str) -> Path:
    """A version folder serving the same SavedModel with another crop policy (None = none recorded)."""
    out = root / name / version_dir.name
    out.mkdir(parents=True)
    for item in version_dir.iterdir():
        if item.name != "metadata.json":
            (out / item.name).symlink_to(item.resolve())
    metadata = read_metadata(version_dir)
    metadata.pop("crop_policy", None)
    if policy is not None:
        metadata["crop_policy"] = policy
    (out / "metadata.json").write_text(json.dumps(metadata, indent=2))
    return out


def post_all(url: str, bodies: list[bytes], content_type: str, concurrency: int = 8) -> list[str | None]:
    """Top-face label of each body (None when no face was found or the request failed)."""

    def one(client: httpx.Client, body: bytes) -> str | None:
        response = client.post(f"{url}/predict", content=body, headers={"Content-Type": content_type})
        if response.status_code != 200:
            return None
        faces = response.json()["faces"]
        return faces[0]["label"] if faces else None

    with httpx.Client(timeout=120.0) as client, ThreadPoolExecutor(concurrency) as pool:
        return list(pool.map(lambda b: one(client, b), bodies))


def scene_bodies(files: list[Path], seed: int = 0) -> tuple[list[bytes], list[int], list[int]]:
    """JPEG scenes of every face at every size; with each its face index and size."""
    faces = [cv2.imread(str(p), cv2.IMREAD_GRAYSCALE) for p in files]
    bodies, index, sides = [], [], []
    for i, scene in scenes(faces, SIDES, MAX_ANGLE, seed=seed):
        bodies.append(to_jpeg(scene.image))
        index.append(i)
        sides.append(scene.side)
    return bodies, index, sides


def measure(model_dir: Path, files: list[Path], labels: list[str], log_dir: Path) -> dict[str, Any]:
    """Crop and per-size scene accuracy of one model folder through one gunicorn server."""
    env = {"MODEL_DIR": str(model_dir), "WORKERS": "1", "LOG_LEVEL": "warning"}
    srv = server.start_service(log_dir / f"{model_dir.parent.name}.log", env)
    try:
        # What found the faces (DETECTOR / DETECTOR_RUNTIME as the server resolved them).
        detector = httpx.get(f"{srv.url}/metadata", timeout=30).json().get("detector")
        return {"detector": detector, **score(srv.url, files, labels, scene_bodies(files))}
    finally:
        srv.stop()


def score(
    url: str, files: list[Path], labels: list[str], scenes: tuple[list[bytes], list[int], list[int]]
) -> dict[str, Any]:
    """Crop and per-size scene accuracy through a running service (scenes: from scene_bodies), with
    a bootstrap interval of each ratio and every face's outcome (`per_face`: one character per
    face in file order, 1 right, 0 wrong, - no face found) for paired comparisons later."""
    bodies, index, sides = scenes
    crop_labels = post_all(url, [p.read_bytes() for p in files], "image/jpeg")
    scene_labels = post_all(url, bodies, "image/jpeg")
    crop_answers = [outcome(c, t) for c, t in zip(crop_labels, labels, strict=True)]
    crop_ok = right(crop_answers)
    crops_here = float(crop_ok.mean())
    rows, per_face = {}, {"crops": "".join(crop_answers)}
    for side in SIDES:
        answers = ["-"] * len(files)  # every face appears once at every size
        for label, face, at in zip(scene_labels, index, sides, strict=True):
            if at == side:
                answers[face] = outcome(label, labels[face])
        scene_ok = right(answers)
        ratio_ci = stats.bootstrap_interval(stats.ratio, [scene_ok, crop_ok]) if crops_here else None
        rows[str(side)] = {
            "service": round(float(scene_ok.mean()), 4),
            "crops": round(crops_here, 4),
            "ratio": round(float(scene_ok.mean()) / crops_here, 4) if crops_here else None,
            "ratio_ci": list(ratio_ci) if ratio_ci else None,
            "face_found": round(sum(a != "-" for a in answers) / len(answers), 4),
            "ceiling": detector_ceiling("".join(answers), per_face["crops"]),
        }
        per_face[str(side)] = "".join(answers)
    return {"crop_accuracy": round(crops_here, 4), "sizes": rows, "per_face": per_face}


def detector_ceiling(scene_outcomes: str, crop_outcomes: str) -> float | None:
    """The ratio a network would reach if every face the detector found scored exactly as its
    crop: the share of the faces right as crops that were found at this size (per-face outcome
    strings). Below the goal, no network meets it with this detector."""
    crop_right = [scene for scene, crop in zip(scene_outcomes, crop_outcomes, strict=True) if crop == "1"]
    return round(sum(s != "-" for s in crop_right) / len(crop_right), 4) if crop_right else None


def right(outcomes: str | list[str]) -> np.ndarray:
    """Per face, whether its outcome character is 1 (right)."""
    return np.array([o == "1" for o in outcomes], dtype=bool)


def outcome(answer: str | None, truth: str) -> str:
    """One face's outcome as one character: 1 right, 0 wrong, - no face found."""
    return "-" if answer is None else "1" if answer == truth else "0"


def paired_difference(a: dict[str, Any], b: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per size, a's accuracy through the service minus b's on the same faces and scenes, with a
    paired bootstrap interval ({} when either side has no per-face outcomes, e.g. older JSON)."""
    if "per_face" not in a or "per_face" not in b:
        return {}
    out = {}
    for side in a["sizes"]:
        a_ok, b_ok = right(a["per_face"][side]), right(b["per_face"][side])
        out[side] = {
            "difference": round(stats.difference(a_ok, b_ok), 4),
            "ci": list(stats.bootstrap_interval(stats.difference, [a_ok, b_ok])),
        }
    return out


def run(model_dir: Path, data_dir: Path, faces: int, variants: list[str], log_dir: Path) -> dict[str, Any]:
    """Every variant on the same faces and scenes."""
    version_dir = resolve_version_dir(model_dir)
    policy = policy_from_metadata(read_metadata(version_dir))
    files, labels = test_faces(data_dir, faces)
    results: dict[str, Any] = {
        "machine": machine.describe("photo-accuracy"),
        "model_dir": machine.display_path(version_dir),
        "faces": len(files),
        "sides": list(SIDES),
        "max_angle": MAX_ANGLE,
        "goal_ratio": GOAL,
        "variants": {},
    }
    with tempfile.TemporaryDirectory(prefix="photo-acc-") as tmp:
        root = Path(tmp)
        choices = {
            "default": None,
            "legacy": LEGACY.to_dict(),
            "align": {**policy.to_dict(), "align": not policy.align},
            "calibrated": CALIBRATED.to_dict(),
            "calibrated-no-align": {**CALIBRATED.to_dict(), "align": False},
        }
        for name in variants:
            folder = version_dir if name == "default" else variant_dir(version_dir, choices[name], root, name)
            served = policy if name == "default" else policy_from_metadata(read_metadata(folder))
            measured = measure(folder, files, labels, root / "logs")
            results["variants"][name] = {"policy": served.to_dict(), **measured}
    default = results["variants"].get("default")
    if default:
        results["meets_goal"] = all((row["ratio"] or 0) >= GOAL for row in default["sizes"].values())
    return results


def render(results: dict[str, Any]) -> str:
    """A Markdown table per variant."""
    m = results["machine"]
    lines = [
        f"# Photo accuracy through the service ({results['model_dir']}, "
        f"{results['faces']} FER2013 test faces)",
        "",
        f"{m['date']}, {m['cpu_model']}, {m['cores']} cores, git {m['git']}, "
        f"load {m['load_average_at_start']}.",
        f"Faces pasted into real photos at {results['sides']} px, rolls up to +-{results['max_angle']:g} deg,"
        " posted to gunicorn /predict; top face; a missed face counts as wrong.",
        "",
        "| variant | crop policy | detector | face px | found | through service | same faces as crops "
        "| ratio | ratio, 95% CI | detector ceiling |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, variant in results["variants"].items():
        p = variant["policy"]
        desc = f"{p['reference']} x{p['scale']}" + (" +align" if p["align"] else "")
        found_by = variant.get("detector") or {}
        detector = f"{found_by.get('name', '?')} on {found_by.get('runtime', '?')}"
        for side, row in variant["sizes"].items():
            lines.append(
                f"| {name} | {desc} | {detector} | {side} | {row['face_found']:.3f} | {row['service']:.4f} | "
                f"{row['crops']:.4f} | {row['ratio']:.3f} | {interval(row.get('ratio_ci'))} | "
                f"{cell(row.get('ceiling'))} |"
            )
    if "meets_goal" in results:
        lines += [
            "",
            f"Goal (ratio >= {results['goal_ratio']} at every size, default): "
            f"{'met' if results['meets_goal'] else 'NOT met'}. The interval is a percentile bootstrap "
            f"over the {results['faces']} faces (each face's crop and scene resampled together). "
            "Detector ceiling: the ratio if every found face scored as its crop (the share of the "
            "faces right as crops that were found).",
        ]
    return "\n".join(lines) + "\n"


def scene_arguments(parser: argparse.ArgumentParser, faces: int) -> None:
    """--model-dir, --data-dir, --faces and --out: what every scene-faces benchmark CLI takes."""
    parser.add_argument("--model-dir", type=Path, default=machine.ROOT / "models" / "emotion")
    parser.add_argument(
        "--data-dir", type=Path, default=machine.ROOT.parent / "shared" / "datasets" / "fer2013"
    )
    parser.add_argument("--faces", type=int, default=faces)
    parser.add_argument("--out", type=Path, default=machine.ROOT / "benchmarks" / "results")


def main(argv: list[str] | None = None) -> int:
    """CLI: write photo-accuracy.{json,md} to --out and print the table."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    scene_arguments(parser, faces=500)
    parser.add_argument("--variants", default="default,legacy,align")
    parser.add_argument("--name", default="photo-accuracy")
    parser.add_argument(
        "--compare-model-dir",
        type=Path,
        action="append",
        default=[],
        help="another model, served as committed, on the same faces and scenes in this run (repeatable)",
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="photo-logs-") as logs:
        results = run(args.model_dir, args.data_dir, args.faces, args.variants.split(","), Path(logs))
        results["compared"] = compare(args.compare_model_dir, args.data_dir, args.faces, Path(logs))
    save_named(results, render(results) + render_compared(results), args.out, args.name)
    return 0


def compare(model_dirs: list[Path], data_dir: Path, faces: int, log_dir: Path) -> dict[str, Any]:
    """Each model as committed, on the faces and scenes run() used (same seeds), one server each."""
    files, labels = test_faces(data_dir, faces)
    compared = {}
    for model_dir in model_dirs:
        version_dir = resolve_version_dir(model_dir)
        policy = policy_from_metadata(read_metadata(version_dir))
        compared[machine.display_path(version_dir)] = {
            "policy": policy.to_dict(),
            **measure(version_dir, files, labels, log_dir),
        }
    return compared


def render_compared(results: dict[str, Any]) -> str:
    """The compared models beside the main one's default variant, per face size, each with its
    accuracy through the service minus the main model's on the same faces (empty without any)."""
    if not results.get("compared"):
        return ""
    main = results["variants"].get("default") or {}
    rows = {results["model_dir"]: main, **results["compared"]}
    lines = [
        "",
        "## Models compared in this run (same faces, scenes and detector settings)",
        "",
        "| model | face px | found | through service | same faces as crops | ratio | ratio, 95% CI "
        "| through service minus the first row's (paired 95% CI) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, measured in rows.items():
        versus = paired_difference(measured, main) if measured is not main else {}
        for side, row in (measured or {}).get("sizes", {}).items():
            diff = versus.get(side)
            lead = f"{diff['difference']:+.4f} ({interval(diff['ci'], signed=True)})" if diff else ""
            lines.append(
                f"| {name} | {side} | {row['face_found']:.3f} | {row['service']:.4f} | "
                f"{row['crops']:.4f} | {row['ratio']:.3f} | {interval(row.get('ratio_ci'))} | {lead} |"
            )
    return "\n".join(lines) + "\n"


def cell(value: float | None) -> str:
    """A ratio for a table cell; blank when the result predates it."""
    return "" if value is None else f"{value:.3f}"


def interval(bounds: list[float] | None, signed: bool = False) -> str:
    """'low to high' for a table cell; blank for results written before intervals were kept."""
    if not bounds:
        return ""
    form = "+.3f" if signed else ".3f"
    return f"{bounds[0]:{form}} to {bounds[1]:{form}}"


if __name__ == "__main__":
    sys.exit(main())
