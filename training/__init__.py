"""Offline training pipeline: image folders -> Keras CNN -> evaluated SavedModel.

One CLI per stage, named like its make target (each wrapped by training.cli.command):
train (make train), evaluate, export (make export: a checkpoint -> a version), ensemble,
tune, predict, calibrate_crop (make calibrate-crop), model_card.

One pass from folder to version: run.load_run scans the folder once (manifest, photos,
report), splits it, weighs the classes and reads the history into a Run; train fits on it and
publish writes the version from it (versions: staging; savedmodel_writer: model files and
metadata; signature: the serving function with TTA; evaluate, scoring and artifacts: the
test numbers and the evaluation folder's files).
The pieces: config, errors, manifest, report, data, photos, scenes, model, distill,
callbacks, keras_models (checkpoints, ensembles), devices.
"""
