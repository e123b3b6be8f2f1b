"""Figures of the load, fault and soak tests, written to RESULTS.md (and .json) by the run itself.

Only a run with RELIABILITY_RESULTS set (`make soak` sets it) writes the files, so the
default `make test` never dirties the work tree; every run prints its figures at the end.
"""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path
from typing import Any

ENV = "RELIABILITY_RESULTS"
TITLES = {
    "load": "Load (default run size)",
    "load_5000": "Load: 5,000 requests",
    "soak": "Soak",
    "overload": "Overload: batch queue of 2, retried 503s",
    "sigkill": "Worker killed with SIGKILL during load",
    "sigterm": "SIGTERM during load",
}


class Figures:
    """Sections of figures collected during one pytest session."""

    def __init__(self, target: Path | None) -> None:
        self.target = target
        self.sections: dict[str, dict[str, Any]] = {}
        self.header = {
            "recorded": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_average_1m": round(os.getloadavg()[0], 2),
        }

    @classmethod
    def from_env(cls) -> Figures:
        """Write to $RELIABILITY_RESULTS (a .md path) when set, else only collect."""
        path = os.environ.get(ENV, "").strip()
        return cls(Path(path) if path else None)

    def add(self, section: str, **figures: Any) -> None:
        """Record one test's figures and rewrite the files at once (a later crash keeps them)."""
        self.sections[section] = figures
        if self.target is not None:
            self.target.parent.mkdir(parents=True, exist_ok=True)
            document = {"run": self.header, "sections": self.sections}
            self.target.with_suffix(".json").write_text(json.dumps(document, indent=2) + "\n")
            self.target.write_text(self.markdown())

    def lines(self) -> list[str]:
        """One line per section, for the terminal summary."""
        return [
            f"{name}: " + ", ".join(f"{k}={v}" for k, v in figures.items())
            for name, figures in self.sections.items()
        ]

    def markdown(self) -> str:
        """RESULTS.md: the run's context, then a table per section."""
        run = self.header
        out = [
            "# Reliability results",
            "",
            "Written by `make soak` (tests/reliability); every figure is from the run recorded below.",
            "Times are measured on a shared machine and are reported, never asserted.",
            "",
            f"Recorded {run['recorded']} on {run['cpus']} CPUs, Python {run['python']}, "
            f"load average {run['load_average_1m']} at the start.",
            "",
        ]
        for name, figures in self.sections.items():
            out += [f"## {TITLES.get(name, name)}", "", "| figure | value |", "|---|---|"]
            out += [f"| {key} | {value} |" for key, value in figures.items()]
            out.append("")
        return "\n".join(out)
