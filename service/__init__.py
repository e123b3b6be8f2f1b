"""Inference service: Flask app factory (`service.app.create_app`), run by gunicorn via `service.wsgi:app`.

Kept import-free: gunicorn.conf.py imports `service.settings` in the master, which must not load
TensorFlow (forking after TF is initialised hangs the workers).
"""
