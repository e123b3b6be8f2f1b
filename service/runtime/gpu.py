"""Is a GPU visible to this process? Answered without importing TensorFlow (seconds and ~400 MiB)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

# Values of CUDA_VISIBLE_DEVICES / NVIDIA_VISIBLE_DEVICES that hide every GPU.
_HIDDEN = {"", "-1", "none", "void"}


def gpu_visible(environ: Mapping[str, str] | None = None, dev: Path = Path("/dev")) -> bool:
    """True when an NVIDIA device node exists and the environment does not hide it.

    The NVIDIA driver (and the NVIDIA Container Toolkit inside a container) creates
    /dev/nvidia0, /dev/nvidia1, ...; CUDA_VISIBLE_DEVICES="" or "-1" hides them from CUDA.
    """
    environ = os.environ if environ is None else environ
    for key in ("CUDA_VISIBLE_DEVICES", "NVIDIA_VISIBLE_DEVICES"):
        if key in environ and environ[key].strip().lower() in _HIDDEN:
            return False
    try:
        return any(p.name[len("nvidia") :].isdigit() for p in dev.glob("nvidia[0-9]*"))
    except OSError:
        return False
