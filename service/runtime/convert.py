"""SavedModel -> OpenVINO IR (f32), in a child process, cached by the SavedModel's content hash.

python -m service.runtime.convert VERSION_DIR OUT_DIR

OpenVINO's TensorFlow frontend reads the SavedModel itself (no TensorFlow import), but the
conversion peaks at several hundred MiB: running it in a child keeps that out of the
worker's resident memory, and a converter crash cannot take the worker down with it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from service.runtime.cache import build_once

IR_FILE = "model.xml"
CONVERT_TIMEOUT_S = 600


class ConversionError(RuntimeError):
    """The SavedModel could not be converted (or quantised) for OpenVINO."""


def convert(version_dir: Path, out_dir: Path) -> Path:
    """Convert in this process: out_dir/model.xml + model.bin with f32 weights (no fp16 compression)."""
    import openvino as ov

    model = ov.convert_model(str(version_dir))
    out_dir.mkdir(parents=True, exist_ok=True)
    # compress_to_fp16 would round every weight to fp16: a silent accuracy change for f32 and bf16.
    ov.save_model(model, str(out_dir / IR_FILE), compress_to_fp16=False)
    return out_dir / IR_FILE


def run_child(module: str, *args: str, timeout: float = CONVERT_TIMEOUT_S) -> None:
    """Run `python -m module args` and raise ConversionError with its last output lines on failure."""
    try:
        done = subprocess.run(
            [sys.executable, "-m", module, *args], capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        raise ConversionError(f"{module} did not finish within {timeout:.0f} s") from None
    if done.returncode != 0:
        tail = " | ".join((done.stderr or done.stdout).strip().splitlines()[-3:])
        raise ConversionError(f"{module} failed (exit {done.returncode}): {tail}")


def ensure_ir(version_dir: Path, model_cache: Path) -> Path:
    """The cached f32 IR of this SavedModel, converting it (in a child process) on first use."""
    target = model_cache / "f32"
    build_once(target, lambda tmp: run_child(__name__, str(version_dir), str(tmp)))
    return target / IR_FILE


def main(argv: list[str] | None = None) -> int:
    """CLI for the child process."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m service.runtime.convert VERSION_DIR OUT_DIR", file=sys.stderr)
        return 2
    try:
        convert(Path(args[0]), Path(args[1]))
    except Exception as exc:  # the parent only sees our exit code and stderr
        print(f"conversion failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
