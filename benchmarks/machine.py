"""Who measured what, where: CPU, cores, library versions, load and date for a results file."""

from __future__ import annotations

import os
import platform
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from contract.cpu import cpu_model, usable_cores

ROOT = Path(__file__).resolve().parents[1]


def display_path(path: str | Path) -> str:
    """A path relative to the repository when it is inside it (results stay machine-independent)."""
    resolved = Path(path).resolve()
    return str(resolved.relative_to(ROOT)) if resolved.is_relative_to(ROOT) else str(path)


def peak_rss_mib() -> float:
    """This process's own peak resident memory in MiB.

    /proc/self/status's VmHWM belongs to the process's address space, which exec replaces. Not
    getrusage's ru_maxrss: Linux carries it over from the parent across fork and exec, so every
    child of the (TensorFlow-laden, ~2 GiB) benchmark process reported ~2 GiB whatever it loaded.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    import resource  # no /proc (macOS: bytes, Linux: kB; only Linux has the carry-over)

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024 if platform.system() == "Darwin" else 1024)


def memory_gb() -> float | None:
    """Total RAM in GiB, or None where /proc/meminfo is missing."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024**2, 1)
    except OSError:
        pass
    return None


def git_revision() -> str:
    """Short commit hash, with '+dirty' when the work tree has changes; '' outside git."""

    def run(*args: str) -> str:
        """stdout of one git command in the repository."""
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
        return done.stdout.strip()

    revision = run("rev-parse", "--short", "HEAD")
    return f"{revision}+dirty" if revision and run("status", "--porcelain") else revision


def library_versions() -> dict[str, str]:
    """Versions of the libraries whose speed is measured."""
    import cv2
    import numpy
    import tensorflow as tf

    versions = {
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "numpy": numpy.__version__,
        "opencv": cv2.__version__,
    }
    for name in ("keras", "openvino", "nncf"):
        try:
            module = __import__(name)
        except ImportError:
            continue
        versions[name] = getattr(module, "__version__", "?")
    return versions


def cpu_features() -> dict[str, Any]:
    """The CPU flags that decide inference speed, and whether bf16 runs natively (AMX or AVX512_BF16)."""
    from contract import cpu

    flags = cpu.cpu_flags()
    return {"flags": cpu.relevant_flags(flags), "native_bf16": cpu.native_bf16(flags)}


def describe(mode: str) -> dict[str, Any]:
    """The machine block of a results file; load average says whether anything else was running."""
    now = datetime.now(UTC)
    return {
        "date": now.isoformat(timespec="seconds"),
        "stamp": now.strftime("%Y%m%dT%H%M%SZ"),
        "mode": mode,
        "cpu_model": cpu_model(),
        "cores": usable_cores(),
        "cpu_features": cpu_features(),
        "memory_gb": memory_gb(),
        "os": f"{platform.system()} {platform.release()}",
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "git": git_revision(),
        "versions": library_versions(),
    }
