"""int8 by NNCF post-training quantisation, calibrated on face crops: an explicit, cached step.

python -m service.runtime.quantize --model-dir models/emotion --calibration-dir DIR [--samples 300]
    [--test-dir TEST]   (measure int8 against f32 on a labelled split: the build may become the default)

DIR is any folder of face images (searched recursively, e.g. a dataset's train/ split);
they go through the image contract exactly as requests do. The result is cached beside
the f32 conversion, under the SavedModel's content hash, with a note of what calibrated it.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
from pathlib import Path

import numpy as np

from service.runtime import gate
from service.runtime.cache import build_once, cache_dir, model_hash
from service.runtime.convert import IR_FILE, ConversionError, ensure_ir, run_child

DEFAULT_SAMPLES = 300  # NNCF's default subset size: enough for stable activation ranges
CALIBRATION_NOTE = gate.NOTE


def calibration_images(folder: Path, samples: int, seed: int = 0) -> np.ndarray:
    """`samples` images drawn (seeded) from the folder, as uint8 [N,48,48,1] model inputs."""
    from contract import IMAGE_EXTENSIONS, decode_image, to_model_input

    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS)
    if not files:
        raise ConversionError(f"no calibration images (jpg, png, bmp, webp) under {folder}")
    random.Random(seed).shuffle(files)
    return np.stack([to_model_input(decode_image(p.read_bytes())) for p in files[:samples]])


def quantize(f32_ir: Path, images: np.ndarray, out_dir: Path) -> Path:
    """NNCF's default int8 post-training quantisation of the f32 IR; writes out_dir/model.xml."""
    import nncf
    import openvino as ov

    model = ov.Core().read_model(str(f32_ir))
    dataset = nncf.Dataset(list(images), lambda image: image[None])  # one face per calibration call
    quantized = nncf.quantize(model, dataset, subset_size=len(images))
    out_dir.mkdir(parents=True, exist_ok=True)
    ov.save_model(quantized, str(out_dir / IR_FILE), compress_to_fp16=False)
    return out_dir / IR_FILE


def build_int8(
    version_dir: Path,
    model_cache: Path,
    calibration_dir: Path,
    samples: int,
    *,
    force: bool = True,
    test_dir: Path | None = None,
) -> Path:
    """Convert if needed, then quantise into <model_cache>/int8 (force: replace an older int8 build).

    With test_dir, both IRs are measured on it and the build may become the auto default (gate.py).
    """
    f32 = ensure_ir(version_dir, model_cache)
    target = model_cache / "int8"

    def build(tmp: Path) -> None:
        """Calibrate and quantise into tmp, with a note of the data used (and the gate's measurement)."""
        images = calibration_images(calibration_dir, samples)
        quantize(f32, images, tmp)
        note: dict = {
            "calibration_dir": str(calibration_dir),
            "samples": len(images),
            "model": str(version_dir),
        }
        if test_dir:
            from contract.modeldir import read_metadata

            names = list(read_metadata(version_dir)["class_names"])
            note["gate"] = gate.measure(f32, tmp / IR_FILE, Path(test_dir), names)
        (tmp / CALIBRATION_NOTE).write_text(json.dumps(note, indent=2) + "\n")

    return build_once(target, build, force=force) / IR_FILE


def int8_ir(version_dir: Path, model_cache: Path, calibration_dir: str = "") -> Path:
    """The cached int8 IR; built now (in a child process) only if CALIBRATION_DIR is set, else an error."""
    path = model_cache / "int8" / IR_FILE
    if path.exists():
        return path
    if not calibration_dir:
        raise ConversionError(
            f"no int8 model cached for {version_dir}: run `make quantize CALIBRATION_DIR=<face images>` "
            "or set CALIBRATION_DIR so the service calibrates it at startup"
        )
    run_child(
        __name__,
        "--model-dir",
        str(version_dir),
        "--calibration-dir",
        calibration_dir,
        "--cache-dir",
        str(model_cache.parent),
        "--if-missing",  # workers starting together must not redo each other's calibration
    )
    return path


def main(argv: list[str] | None = None) -> int:
    """Quantise one model version into the runtime cache."""
    from contract.modeldir import resolve_version_dir

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", type=Path, required=True, help="model root or version folder")
    parser.add_argument("--calibration-dir", type=Path, required=True, help="folder of face images")
    parser.add_argument("--samples", type=int, default=DEFAULT_SAMPLES)
    # The environment's RUNTIME_CACHE_DIR by default, as the service reads it.
    parser.add_argument(
        "--cache-dir",
        default=os.environ.get("RUNTIME_CACHE_DIR", ""),
        help="default: $RUNTIME_CACHE_DIR, else ~/.cache/...",
    )
    parser.add_argument("--if-missing", action="store_true", help="keep an existing int8 build")
    parser.add_argument(
        "--test-dir",
        type=Path,
        help="labelled test split: measure int8 against f32 (auto may then pick int8)",
    )
    args = parser.parse_args(argv)
    version_dir = resolve_version_dir(args.model_dir)
    model_cache = cache_dir(args.cache_dir) / model_hash(version_dir)
    try:
        path = build_int8(
            version_dir,
            model_cache,
            args.calibration_dir,
            args.samples,
            force=not args.if_missing,
            test_dir=args.test_dir,
        )
    except (ConversionError, OSError, ValueError) as exc:
        print(f"quantisation failed: {exc}", file=sys.stderr)
        return 1
    print(path)
    print((path.parent / CALIBRATION_NOTE).read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
