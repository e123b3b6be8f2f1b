"""Convert a model for OpenVINO ahead of time (image build, deploy step), so no worker pays it at startup.

python -m service.runtime.prepare [--model-dir models/emotion] [--cache-dir DIR]
"""

from __future__ import annotations

import argparse
import os
import sys

from contract.modeldir import ModelDirError, resolve_version_dir
from service.runtime.cache import cache_dir, model_hash
from service.runtime.convert import ConversionError, ensure_ir


def main(argv: list[str] | None = None) -> int:
    """Write <cache>/<hash>/f32/model.xml for the served version and print its path."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", default="models/emotion", help="model root or version folder")
    # The environment's RUNTIME_CACHE_DIR by default, as the service reads it (the Dockerfile sets it).
    parser.add_argument(
        "--cache-dir",
        default=os.environ.get("RUNTIME_CACHE_DIR", ""),
        help="default: $RUNTIME_CACHE_DIR, else ~/.cache/...",
    )
    args = parser.parse_args(argv)
    try:
        version_dir = resolve_version_dir(args.model_dir)
        print(ensure_ir(version_dir, cache_dir(args.cache_dir) / model_hash(version_dir)))
    except (ModelDirError, ConversionError, OSError) as exc:
        print(f"cannot prepare {args.model_dir}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
