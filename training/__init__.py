"""Offline training pipeline: image folders -> Keras CNN -> evaluated SavedModel."""
