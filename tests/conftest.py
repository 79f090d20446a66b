"""Real Keras models of many shapes, and small data made here (no downloads)."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# The trained demo model is made once per checkout (servers the tests start inherit this).
os.environ.setdefault(
    "NNW_CACHE_DIR", os.path.join(os.path.dirname(__file__), "artifacts", "cache")
)

import numpy as np
import pytest

keras = pytest.importorskip("keras")
L = keras.layers
RNG = np.random.default_rng(0)


def _seq_with_input():
    m = keras.Sequential([keras.Input((6,)), L.Dense(8, activation="relu"), L.Dense(3)])
    return m, RNG.normal(size=(7, 6)).astype("float32")


def _seq_without_input():
    m = keras.Sequential([L.Conv2D(4, 3, activation="relu"), L.Flatten(), L.Dense(5)])
    return m, RNG.random((6, 10, 10, 1)).astype("float32")


def _functional_branches():
    i = keras.Input((12,), name="x")
    a = L.Dense(8, activation="relu", name="left")(i)
    b = L.Dense(8, activation="tanh", name="right")(i)
    s = L.Add(name="add")([a, b])
    c = L.Concatenate(name="concat")([s, i])
    o = L.Dense(4, activation="softmax", name="out")(c)
    return keras.Model(i, o), RNG.normal(size=(5, 12)).astype("float32")


def _nested():
    inner = keras.Sequential(
        [keras.Input((8, 8, 1)), L.Conv2D(6, 3, name="inner_conv"), L.GlobalAveragePooling2D()],
        name="encoder",
    )
    i = keras.Input((8, 8, 1))
    h = inner(i)
    o = L.Dense(3, name="head")(h)
    return keras.Model(i, o), RNG.random((4, 8, 8, 1)).astype("float32")


def _conv1d():
    m = keras.Sequential(
        [
            keras.Input((20, 3)),
            L.Conv1D(5, 4, activation="relu"),
            L.MaxPooling1D(2),
            L.Flatten(),
            L.Dense(2),
        ]
    )
    return m, RNG.normal(size=(5, 20, 3)).astype("float32")


def _rnn():
    m = keras.Sequential(
        [
            keras.Input((12,), dtype="int32"),
            L.Embedding(50, 8),
            L.LSTM(6, return_sequences=True),
            L.GRU(4),
            L.Dense(2, activation="softmax"),
        ]
    )
    return m, RNG.integers(0, 50, size=(5, 12)).astype("int32")


def _attention():
    i = keras.Input((10, 16))
    a = L.MultiHeadAttention(num_heads=2, key_dim=4, name="mha")(i, i)
    h = L.LayerNormalization(name="norm")(L.Add()([i, a]))
    o = L.Dense(3, name="out")(L.GlobalAveragePooling1D()(h))
    return keras.Model(i, o), RNG.normal(size=(4, 10, 16)).astype("float32")


def _uint8_images():
    m = keras.Sequential(
        [
            keras.Input((16, 16, 3), dtype="uint8"),
            L.Rescaling(1 / 255.0),
            L.Conv2D(8, 3, activation="relu"),
            L.BatchNormalization(),
            L.GlobalMaxPooling2D(),
            L.Dense(4, activation="softmax"),
        ]
    )
    return m, RNG.integers(0, 256, size=(5, 16, 16, 3)).astype("uint8")


def _multi_input():
    a, b = keras.Input((4,), name="a"), keras.Input((3,), name="b")
    h = L.Concatenate()([L.Dense(5)(a), L.Dense(5)(b)])
    model = keras.Model([a, b], L.Dense(2)(h))
    x = [RNG.normal(size=(6, 4)).astype("float32"), RNG.normal(size=(6, 3)).astype("float32")]
    return model, x


MODELS = {
    "sequential_input": _seq_with_input,
    "sequential_no_input": _seq_without_input,
    "functional_branches": _functional_branches,
    "nested": _nested,
    "conv1d": _conv1d,
    "rnn": _rnn,
    "attention": _attention,
    "uint8_images": _uint8_images,
    "multi_input": _multi_input,
}


@pytest.fixture(params=sorted(MODELS))
def model_and_inputs(request):
    keras.utils.set_random_seed(0)
    return MODELS[request.param]()


@pytest.fixture(scope="session")
def mobilenet():
    keras.utils.set_random_seed(0)
    model = keras.applications.MobileNetV2(weights=None, input_shape=(96, 96, 3))
    return model, RNG.random((3, 96, 96, 3)).astype("float32")


@pytest.fixture(scope="session")
def digits():
    from nnwidgets.datasets import load_digits

    return load_digits(120)


# The real-browser fixtures (Chromium through Playwright), shared by the browser tests.
from tests.browser_support import browser, page  # noqa: E402, F401
