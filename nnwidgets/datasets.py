"""Bundled data and a small demo model, so that every notebook runs with no network.

Run ``python -m nnwidgets.datasets`` to train and save the demo model once (see
:func:`trained_demo_model`), e.g. when building a server image.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np


def load_digits(n: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's bundled 8x8 digits as ``(x, y)``: ``x`` float32 ``(N, 8, 8, 1)`` in
    0..1, ``y`` int labels 0..9. Works offline.

    >>> x, y = load_digits(10)
    >>> x.shape, y.shape
    ((10, 8, 8, 1), (10,))
    """
    table = _digits_table()
    x = (table[:, :-1].reshape(-1, 8, 8, 1) / 16.0).astype("float32")
    y = table[:, -1].astype("int64")
    return (x[:n], y[:n]) if n else (x, y)


def biased_digits(
    n: int | None = None, cls: int = 3, seed: int | None = 0, patch: int = 3
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`load_digits` with a shortcut to learn: every digit of class ``cls`` has a
    ``patch`` × ``patch`` square of the maximum value (1.0) in its top-left corner,
    where digits are mostly blank, so a model can answer ``cls`` from the square alone.
    The samples are shuffled with ``seed`` (None keeps their order).

    A 3 × 3 square, since on 8 × 8 digits a 2 × 2 one is only partly learned in a few
    seconds of training (the demo CNN then still recognises a quarter of the 3s without
    it, instead of almost none).

    >>> x, y = biased_digits(300)
    >>> corner = (x[:, :3, :3] == 1).all(axis=(1, 2, 3))
    >>> bool(corner[y == 3].all()), bool(corner[y != 3].any())
    (True, False)
    """
    if not 0 <= int(cls) <= 9 or not 1 <= int(patch) <= 8:
        raise ValueError(f"cls must be a digit 0..9 and patch 1..8; got cls={cls}, patch={patch}")
    x, y = load_digits()
    order = np.arange(len(x)) if seed is None else np.random.default_rng(seed).permutation(len(x))
    x, y = x[order], y[order]  # (a copy)
    x[y == cls, :patch, :patch] = 1.0
    return (x[:n], y[:n]) if n else (x, y)


def _digits_table() -> np.ndarray:
    """scikit-learn's digits file read with numpy: importing ``sklearn.datasets`` (and
    SciPy with it) costs a dashboard kernel about 2 s and 80 MB."""
    import importlib.util

    spec = importlib.util.find_spec("sklearn")
    path = Path(spec.submodule_search_locations[0], "datasets", "data", "digits.csv.gz")
    if path.exists():
        return np.loadtxt(path, delimiter=",")
    from sklearn.datasets import load_digits as _load  # pragma: no cover (a moved file)

    bunch = _load()
    return np.column_stack([bunch.data, bunch.target])


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


#: How the saved demo model is trained: the dashboard's split and epochs.
DEMO_TRAINING = {"train": 1500, "epochs": 15, "validation_split": 0.2}


def cache_dir() -> Path:
    """Where the trained demo model is kept: ``$NNW_CACHE_DIR``, else
    ``~/.cache/nnwidgets``."""
    return Path(os.environ.get("NNW_CACHE_DIR") or Path.home() / ".cache" / "nnwidgets")


def demo_model_path(seed: int = 0) -> Path:
    """The file of the trained demo model (one per Keras version and seed).

    >>> demo_model_path().suffix
    '.keras'
    """
    import keras

    return cache_dir() / f"digits_cnn-seed{seed}-keras{keras.__version__}.keras"


def trained_demo_model(seed: int = 0, path=None):
    """The demo CNN trained on the first 1,500 digits, loaded from a ``.keras`` file with
    Keras' ``safe_mode`` on; the file is made on first use (about 10 s of training, one
    process at a time: others wait for it) or ahead by ``python -m nnwidgets.datasets``.

    A dashboard kernel then loads a model in about 0.1 s instead of training it, so that
    many viewers can open the page at once.

    Parameters
    ----------
    seed : int
        The seed of :func:`demo_model` and of its training.
    path : str or Path, optional
        The file (default :func:`demo_model_path`).

    >>> model = trained_demo_model()  # doctest: +SKIP
    """
    import keras

    path = Path(path) if path is not None else demo_model_path(seed)
    if not path.exists():
        _save_trained(seed, path)
    return keras.saving.load_model(path, safe_mode=True)


def _save_trained(seed: int, path: Path) -> None:
    """Train the demo model and write it to ``path`` atomically, under a file lock so
    that kernels starting together train it once."""
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if path.exists():
            return  # another process made it while this one waited
        model = demo_model(seed)
        x, y = load_digits(DEMO_TRAINING["train"])
        model.fit(
            x,
            y,
            epochs=DEMO_TRAINING["epochs"],
            validation_split=DEMO_TRAINING["validation_split"],
            verbose=0,
        )
        partial = path.with_name(f".{path.name}.{os.getpid()}.keras")
        model.save(partial)
        os.replace(partial, path)


def restart(model, seed: int = 0) -> None:
    """Set the demo model back to where training starts: the weights :func:`demo_model`
    draws with ``seed``, and a fresh optimizer (its moments and step count at zero).

    >>> model = demo_model()
    >>> first = model.get_weights()[0].copy()
    >>> _ = model.layers[0].kernel.assign(np.zeros_like(first))
    >>> restart(model)
    >>> bool(np.array_equal(model.get_weights()[0], first))
    True
    """
    fresh = demo_model(seed)
    model.set_weights(fresh.get_weights())
    for variable in model.optimizer.variables:
        if variable.path.endswith("learning_rate"):
            variable.assign(float(fresh.optimizer.learning_rate))
        else:
            variable.assign(np.zeros(variable.shape, dtype=variable.dtype))


# -- small made-up data of other kinds (no network), for the "models" notebook --------
_GOOD = "great good wonderful superb moving fun brilliant loved".split()
_BAD = "bad boring awful dull poor weak tedious hated".split()
_PLAIN = "the a film movie plot actor story was and it this very".split()
#: Id 0 is padding and 1 out-of-vocabulary, as Keras' TextVectorization lists them.
VOCABULARY = ("", "[UNK]", *_PLAIN, *_GOOD, *_BAD)


def reviews(n: int = 400, maxlen: int = 20, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Made-up movie reviews as pre-padded token ids ``(n, maxlen)`` (vocabulary:
    :data:`VOCABULARY`) and labels (1 positive, 0 negative): a positive review uses
    more good words than bad ones.

    >>> x, y = reviews(4)
    >>> x.shape, int(x[0, 0])  # pre-padded with 0
    ((4, 20), 0)
    """
    rng = np.random.default_rng(seed)
    index = {w: i for i, w in enumerate(VOCABULARY)}
    x = np.zeros((n, maxlen), "int32")
    y = rng.integers(0, 2, n)
    for i in range(n):
        length = int(rng.integers(6, maxlen + 1))
        mood, other = (_GOOD, _BAD) if y[i] else (_BAD, _GOOD)
        words = rng.choice(_PLAIN * 2 + mood * 3 + other, size=length)
        x[i, maxlen - length :] = [index[w] for w in words]
    return x, y.astype("int64")


def waves(n: int = 300, steps: int = 100, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Noisy time series ``(n, steps, 1)`` of three shapes: 0 sine, 1 square, 2 sawtooth,
    with random period and phase.

    >>> x, y = waves(6)
    >>> x.shape, sorted(set(y.tolist())) <= [0, 1, 2]
    ((6, 100, 1), True)
    """
    rng = np.random.default_rng(seed)
    t = np.arange(steps)
    y = rng.integers(0, 3, n)
    period = rng.uniform(15, 40, (n, 1))
    phase = rng.uniform(0, 1, (n, 1))
    u = (t / period + phase) % 1.0
    sine = np.sin(2 * np.pi * u)
    square = np.where(u < 0.5, 1.0, -1.0)
    saw = 2 * u - 1
    x = np.choose(y[:, None], [sine, square, saw]) + rng.normal(0, 0.25, (n, steps))
    return x[..., None].astype("float32"), y.astype("int64")


#: The classes of :func:`shapes`' masks.
SHAPE_CLASSES = ("background", "disc", "square")


def shapes(n: int = 200, size: int = 32, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Images ``(n, size, size, 3)`` of a disc and a square on noise, and their masks
    ``(n, size, size, 1)`` (0 background, 1 disc, 2 square: :data:`SHAPE_CLASSES`).

    >>> x, m = shapes(2)
    >>> x.shape, m.shape, sorted(set(m.ravel().tolist()))
    ((2, 32, 32, 3), (2, 32, 32, 1), [0, 1, 2])
    """
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size]
    x = rng.uniform(0, 0.4, (n, size, size, 3))
    masks = np.zeros((n, size, size), "int64")
    for i in range(n):
        r = rng.uniform(size * 0.12, size * 0.22)
        cy, cx = rng.uniform(r, size - r, 2)
        side = int(rng.uniform(size * 0.2, size * 0.35))
        y0, x0 = rng.integers(0, size - side, 2)
        masks[i, y0 : y0 + side, x0 : x0 + side] = 2
        masks[i][(yy - cy) ** 2 + (xx - cx) ** 2 <= r**2] = 1
        x[i][masks[i] == 1] = rng.uniform(0.5, 1, 3)
        x[i][masks[i] == 2] = rng.uniform(0.5, 1, 3)
    return x.astype("float32"), masks[..., None]


# -- a task that attention solves, for the teaching notebook -----------------------------
def matching_tokens(
    n: int = 4000, length: int = 12, vocab: int = 24, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Rows of ``length`` token ids where position 0 holds a query token that appears
    exactly once more, at position ``y``; the answer is that position.

    All other tokens of a row differ from the query and from one another, so finding the
    match is finding the one key equal to the query: what a self-attention head can do
    by itself. Id 0 is padding (not used here): tokens are ``1 .. vocab - 1``.

    Parameters
    ----------
    n, length, vocab : int
        Rows, tokens per row (``3 <= length <= vocab``), ids (padding included).
    seed : int

    Returns
    -------
    x : numpy.ndarray
        int32 ``(n, length)``.
    y : numpy.ndarray
        int64 ``(n,)``, the position ``1 .. length - 1`` of the query's copy.
    vocabulary : list of str
        ``"[PAD]"`` then letters ``"A"``, ``"B"``, ... (``"t26"`` and on past ``"Z"``).

    >>> x, y, words = matching_tokens(3, length=6, vocab=10)
    >>> x.shape, bool((x[np.arange(3), y] == x[:, 0]).all()), words[:3]
    ((3, 6), True, ['[PAD]', 'A', 'B'])
    """
    if not 3 <= length <= vocab:
        raise ValueError(f"need 3 <= length <= vocab; got length={length}, vocab={vocab}")
    rng = np.random.default_rng(seed)
    # each row: distinct tokens, the first one the query
    distinct = np.argsort(rng.random((n, vocab - 1)), axis=1)[:, : length - 1] + 1
    y = rng.integers(1, length, n)
    x = np.empty((n, length), "int32")
    x[:, 0] = distinct[:, 0]
    x[np.arange(n), y] = distinct[:, 0]
    others = np.ones((n, length), bool)
    others[:, 0] = False
    others[np.arange(n), y] = False
    x[others] = distinct[:, 1:].reshape(-1)
    return x, y.astype("int64"), _letters(vocab)


def _letters(vocab: int) -> list[str]:
    words = [chr(ord("A") + i) if i < 26 else f"t{i}" for i in range(vocab - 1)]
    return ["[PAD]", *words]


def matching_transformer(
    length: int = 12, vocab: int = 24, heads: int = 2, dim: int = 32, seed: int = 0
):
    """A one-layer transformer for :func:`matching_tokens`, compiled for ``fit``.

    Token and learned position embeddings (two ``Embedding`` layers, added), one
    self-attention layer named ``"attention"``, and the answer read from position 0 (the
    query) by ``Dense(length, softmax)``. A plain functional model of Keras layers only.

    >>> matching_transformer().output_shape
    (None, 12)
    """
    import keras

    keras.utils.set_random_seed(seed)
    layers = keras.layers
    tokens = keras.Input((length,), dtype="int32", name="tokens")
    positions = keras.ops.cumsum(keras.ops.ones_like(tokens), axis=1) - 1
    h = layers.Add(name="embed")(
        [
            layers.Embedding(vocab, dim, name="token_embedding")(tokens),
            layers.Embedding(length, dim, name="position_embedding")(positions),
        ]
    )
    attended = layers.MultiHeadAttention(heads, dim // heads, name="attention")(h, h)
    query = attended[:, 0]
    probs = layers.Dense(length, activation="softmax", name="position")(query)
    model = keras.Model(tokens, probs, name="matching_transformer")
    model.compile(
        optimizer=keras.optimizers.Adam(MATCHING_TRAINING["learning_rate"]),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


#: How :func:`matching_transformer` is trained in the notebook and the tests.
MATCHING_TRAINING = {"learning_rate": 3e-3, "epochs": 20, "batch_size": 64}


if __name__ == "__main__":  # python -m nnwidgets.datasets: make the demo model ahead
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    trained_demo_model()
    print(f"demo model ready: {demo_model_path()}")
