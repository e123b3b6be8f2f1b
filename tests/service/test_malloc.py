"""The server's processes run with two malloc arenas (glibc), not one per request thread."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from service.malloc import limit_arenas
from tests.support.models import REPO

# Eight threads each hold a fresh allocation at once; glibc's malloc_info lists one <heap> per arena.
PROBE = """
import ctypes, json, re, sys, tempfile, threading
from service.malloc import limit_arenas
took = limit_arenas() if sys.argv[1] == "limit" else False
libc = ctypes.CDLL("libc.so.6")
libc.malloc.restype = ctypes.c_void_p
libc.fopen.restype = ctypes.c_void_p
held, ready, done = [], threading.Barrier(9), threading.Event()
def hold():
    held.append(libc.malloc(1 << 16))
    ready.wait()
    done.wait()
threads = [threading.Thread(target=hold) for _ in range(8)]
for t in threads: t.start()
ready.wait()
with tempfile.NamedTemporaryFile() as f:
    stream = libc.fopen(f.name.encode(), b"w")
    libc.malloc_info(0, ctypes.c_void_p(stream))
    libc.fclose(ctypes.c_void_p(stream))
    arenas = len(re.findall(r'<heap nr="', open(f.name).read()))
done.set()
print(json.dumps({"took": took, "arenas": arenas}))
"""


def arenas(mode: str) -> dict:
    """Arenas in use in a fresh interpreter whose eight threads allocate at once."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE, mode], cwd=REPO, capture_output=True, text=True, check=True, timeout=60
    )
    return json.loads(done.stdout)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_info")
def test_two_arenas_serve_many_threads() -> None:
    """Without the cap eight threads get arenas of their own; with it, at most two exist."""
    before, after = arenas("default"), arenas("limit")
    if before["arenas"] <= 2:
        pytest.skip("this C library does not give threads arenas of their own")
    assert after == {"took": True, "arenas": 2}


def test_an_operators_malloc_arena_max_wins() -> None:
    """MALLOC_ARENA_MAX in the environment is glibc's to apply; the service does not override it."""
    assert limit_arenas(environ={"MALLOC_ARENA_MAX": "4"}) is False
