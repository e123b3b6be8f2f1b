"""What this CPU can do, read from /proc/cpuinfo flags (no runtime imported): the service picks its
inference precision from it, training its bf16 policy, and every benchmark records it."""

from __future__ import annotations

import os
import platform
from functools import cache
from pathlib import Path

CPUINFO = Path("/proc/cpuinfo")
# Flags that decide which precision runs natively: bf16 needs AMX or AVX512_BF16, int8 is fast with VNNI.
BF16_FLAGS = ("amx_bf16", "avx512_bf16")
INT8_FLAGS = ("amx_int8", "avx512_vnni", "avx_vnni")
RELEVANT_FLAGS = ("avx2", "fma", "avx512f", *BF16_FLAGS, *INT8_FLAGS, "amx_tile")


def read_flags(path: Path = CPUINFO) -> frozenset[str]:
    """The 'flags' of the first processor in a cpuinfo file; empty where there is none (not Linux/x86)."""
    try:
        text = path.read_text()
    except OSError:
        return frozenset()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):  # x86 says flags, arm64 says Features
            return frozenset(value.split())
    return frozenset()


@cache
def cpu_flags() -> frozenset[str]:
    """This machine's CPU flags (read once per process)."""
    return read_flags()


def usable_cores() -> int:
    """The cores this process may run on (its affinity mask, e.g. a container's cpuset), at least 1."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, cores or 1)


def native_bf16(flags: frozenset[str]) -> bool:
    """Whether bf16 matrix maths runs in hardware (AMX or AVX512_BF16) rather than emulated."""
    return any(flag in flags for flag in BF16_FLAGS)


def relevant_flags(flags: frozenset[str]) -> list[str]:
    """The flags that decide inference speed, in a fixed order, for logs and benchmark reports."""
    return [flag for flag in RELEVANT_FLAGS if flag in flags]


def cpu_model(path: Path = CPUINFO) -> str:
    """The CPU's marketing name ('model name'), or the platform's processor string."""
    try:
        for line in path.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()
