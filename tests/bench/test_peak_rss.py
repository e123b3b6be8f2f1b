"""The raw-ceiling table's peak RSS is the child's own, not its parent's."""

from __future__ import annotations

import subprocess
import sys

import numpy as np

from benchmarks.machine import ROOT, peak_rss_mib


def test_a_child_reports_its_own_peak_not_the_parents() -> None:
    """getrusage's ru_maxrss survives fork + exec on Linux: a child of a 600 MiB parent would report
    600 MiB although it holds a fraction of that (every runtime row read ~2 GiB until 2026-12-04)."""
    ballast = np.ones(600 * 1024 * 1024 // 8)  # 600 MiB, touched
    assert peak_rss_mib() >= 600
    code = "from benchmarks.machine import peak_rss_mib; print(peak_rss_mib())"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert float(out.stdout) < 300
    del ballast
