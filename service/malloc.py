"""glibc's malloc arenas, capped for the server's processes.

glibc gives each new thread its own arena (up to 8 per core) and keeps what is freed in it for
that arena's later use. A worker's 32 request threads each decode photos into buffers of a
megabyte or more, so after photo load a worker held ~30 MiB more than with two arenas, at the
same photos a second (docs/configuration.md#process-model). Two arenas are enough for two cores.
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Mapping

M_ARENA_MAX = -8  # glibc's mallopt parameter number (malloc.h)
ARENAS = 2


def limit_arenas(count: int = ARENAS, environ: Mapping[str, str] | None = None) -> bool:
    """Cap this process's malloc arenas, which the workers it forks inherit; True if it took effect.

    An operator's own MALLOC_ARENA_MAX wins (glibc read it at start-up), and a C library without
    mallopt (musl, macOS) is left alone.
    """
    environ = os.environ if environ is None else environ
    if "MALLOC_ARENA_MAX" in environ:
        return False
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(M_ARENA_MAX, count))
