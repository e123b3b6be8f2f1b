"""Emotions of every face over time in a video: sampling, tracking, smoothing, outputs, CLI and HTTP.

The frames go through the same detection and crop step as /predict (contract.faces.find_faces)
and the same batched model call (service.batcher.Batcher), so a still face in a video gets the
label /predict gives its frame. `python -m service.video --help` for the command line.
"""
