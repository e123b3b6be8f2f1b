"""Publish a .keras checkpoint as a model version: export, evaluate on test, record the metrics.

python -m training.export --checkpoint runs/x/best.keras --data-dir DIR --config f.toml

For the best epoch so far of a run that is still going, or a committed checkpoint on a new
machine. The run's config gives the data, the split and the export options, exactly as `make
train` would have used them (training.run.load_run).
"""

from __future__ import annotations

import argparse
import sys

# A distillation run's checkpoints are compiled with DistillationLoss: Keras finds the class only
# once this module has registered it, and nothing else on the export path imports it.
from training import distill  # noqa: F401
from training.cli import command
from training.config import add_arguments, config_from_args
from training.keras_models import load_checkpoint
from training.publish import publish
from training.run import load_run
from training.versions import refuse_taken_version


@command
def main(argv: list[str] | None = None) -> int:
    """CLI: publish a .keras checkpoint with the run's config."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", required=True, help="a .keras file (e.g. runs/x/best.keras)")
    add_arguments(parser)
    args = parser.parse_args(argv)
    config = config_from_args(args)
    refuse_taken_version(config.model_dir, config.version, config.overwrite)  # before loading anything
    run = load_run(config)
    publish(load_checkpoint(args.checkpoint), run, {"checkpoint": str(args.checkpoint)})
    return 0


if __name__ == "__main__":
    sys.exit(main())
