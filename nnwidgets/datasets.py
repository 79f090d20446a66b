"""Bundled data and a small demo model, so that every notebook runs with no network."""

from __future__ import annotations

import numpy as np


def load_digits(n: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's bundled 8x8 digits as ``(x, y)``: ``x`` float32 ``(N, 8, 8, 1)`` in
    0..1, ``y`` int labels 0..9. Works offline.

    >>> x, y = load_digits(10)
    >>> x.shape, y.shape
    ((10, 8, 8, 1), (10,))
    """
    from sklearn.datasets import load_digits as _load

    bunch = _load()
    x = (bunch.images / 16.0).astype("float32")[..., None]
    y = bunch.target.astype("int64")
    return (x[:n], y[:n]) if n else (x, y)


def demo_model(seed: int = 0):
    """A small CNN for the 8x8 digits, compiled for ``fit`` (not trained).

    >>> demo_model().output_shape
    (None, 10)
    """
    import keras

    keras.utils.set_random_seed(seed)
    model = keras.Sequential(
        [
            keras.Input((8, 8, 1), name="digit"),
            keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="conv1"),
            keras.layers.Conv2D(32, 3, padding="same", activation="relu", name="conv2"),
            keras.layers.MaxPooling2D(2, name="pool"),
            keras.layers.Flatten(name="flatten"),
            keras.layers.Dense(64, activation="relu", name="dense"),
            keras.layers.Dropout(0.2, name="dropout"),
            keras.layers.Dense(10, activation="softmax", name="probs"),
        ],
        name="digits_cnn",
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model
