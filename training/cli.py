"""One entry for every training CLI: logging set up once, typed errors as one line and exit code 2."""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Callable

from training.errors import ConfigError, DatasetError, ModelDirError

# What the user can fix (a flag, a config file, the dataset folder, a model or checkpoint path, a
# full disk): a one-line message, no traceback. Anything else is a bug and keeps its traceback.
USER_ERRORS = (ConfigError, DatasetError, ModelDirError, OSError)
USAGE_EXIT = 2  # argparse's code for a bad command line; the same for every error above
LOG_FORMAT = "%(asctime)s %(levelname)s %(message)s"

Main = Callable[[list[str] | None], int]


def command(main: Main) -> Main:
    """Wrap a CLI's main(argv) -> exit code: logging configured, USER_ERRORS -> 'error: ...' and 2."""

    @functools.wraps(main)
    def run(argv: list[str] | None = None) -> int:
        logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)  # a no-op once logging is set up
        try:
            return main(argv)
        except USER_ERRORS as exc:
            print(f"error: {exc}", file=sys.stderr)
            return USAGE_EXIT

    return run
