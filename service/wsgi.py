"""gunicorn entry point: `gunicorn -c gunicorn.conf.py "service.wsgi:app"`.

Imported inside each worker after the fork (no preload_app, see gunicorn.conf.py),
so every worker loads its own TensorFlow runtime and model.
"""

from __future__ import annotations

import logging

from gunicorn.errors import AppImportError

from contract.detect import DetectorUnavailable
from contract.modeldir import ModelDirError
from service.app import create_app
from service.settings import SettingsError

log = logging.getLogger("service.wsgi")

try:
    app = create_app()
except (ModelDirError, SettingsError, DetectorUnavailable) as exc:
    log.critical("cannot start: %s", exc)
    # AppImportError makes gunicorn halt the whole server (exit 4) instead of respawning the worker.
    raise AppImportError(f"cannot start: {exc}") from None
