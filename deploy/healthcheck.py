"""Container health probe: exit 0 when GET /health on the local service answers 200, else 1.

Standard library only, because the slim image has no curl.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request


def healthy(port: str, timeout: float = 4.0) -> bool:
    """True when the service on 127.0.0.1:port reports ready."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=timeout) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


if __name__ == "__main__":
    sys.exit(0 if healthy(os.environ.get("PORT", "8000")) else 1)
