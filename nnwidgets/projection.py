"""Two-dimensional projections of features (PCA, t-SNE, UMAP), as pure functions.

Usable without any widget: a view calls :func:`project` on a layer's activations, in a
background thread for t-SNE, whose ``callback`` shows the embedding as it optimises and
can cancel it. :func:`trustworthiness` reports how well an embedding keeps neighbours.

t-SNE is openTSNE's, chosen by measurement beside scikit-learn's ``TSNE(init="pca")``:
as trustworthy, and faster (figures: ``python -m benchmarks.bench_projection``).

>>> import numpy as np
>>> x = np.random.default_rng(0).normal(size=(60, 4, 3))  # flattened to (60, 12)
>>> y = project(x, "pca")
>>> y.shape, y.dtype
((60, 2), dtype('float32'))
>>> project(x, "tsne", seed=1).shape
(60, 2)
>>> project(x[:5], "tsne")
Traceback (most recent call last):
...
ValueError: t-SNE needs at least 10 samples; got 5
"""

from __future__ import annotations

import os
from collections.abc import Callable

import numpy as np

#: The methods :func:`project` knows, and the fewest samples each accepts.
MIN_SAMPLES = {"pca": 2, "tsne": 10, "umap": 10}
_NAMES = {"pca": "PCA", "tsne": "t-SNE", "umap": "UMAP"}
#: t-SNE first reduces wider features to this many principal components.
TSNE_PCA_DIMS = 50
#: openTSNE's repulsion: Barnes-Hut below this many samples, FFT interpolation from it on.
#: Measured with the pip wheel (numpy's FFT, no FFTW), one thread, 750 iterations: at
#: 10,000 samples BH 87, 114, 168 s, FFT 109, 165, 164 s; at 15,000 BH 190 s, FFT 130 s.
TSNE_FFT_FROM = 12_000
#: t-SNE's neighbours: exact (scikit-learn) up to this many samples, Annoy above. Measured
#: on 64-D digits: exact 1.3 s at 10,000 and 3.4 s at 20,000, Annoy 6.5 s and 14 s.
TSNE_EXACT_NEIGHBOURS_UP_TO = 20_000
#: Threads for t-SNE; ``None``: all usable cores but one (at least one), so the kernel
#: that runs it in the background stays responsive.
N_JOBS: int | None = None

Callback = Callable[[int, np.ndarray], "bool | None"]


def project(
    features,
    method: str = "pca",
    seed: int = 0,
    *,
    perplexity: float = 30.0,
    callback: Callback | None = None,
    every: int = 25,
) -> np.ndarray:
    """Project ``features`` to two dimensions.

    Parameters
    ----------
    features : array-like, shape (n, ...)
        One row per sample; everything after the first axis is flattened.
    method : {"pca", "tsne", "umap"}
        ``"pca"``: scikit-learn's PCA (columns equal up to sign). ``"tsne"``: openTSNE
        (Barnes-Hut, FFT from :data:`TSNE_FFT_FROM` samples) after a PCA to
        :data:`TSNE_PCA_DIMS` dimensions. ``"umap"``: the optional umap-learn package.
    seed : int
        Random seed of t-SNE and UMAP: the same seed gives the same embedding.
    perplexity : float
        t-SNE's perplexity, lowered to ``(n - 1) / 3`` for few samples.
    callback : callable, optional
        t-SNE only: ``callback(iteration, embedding)`` every ``every`` iterations with a
        float32 copy of the current (n, 2) embedding; returning True stops the
        optimisation, and the embedding so far is returned.
    every : int
        Iterations between calls of ``callback``.

    Returns
    -------
    numpy.ndarray
        float32, shape (n, 2).

    Raises
    ------
    ValueError
        Unknown method, fewer samples than :data:`MIN_SAMPLES`, NaN or Inf features,
        all samples identical, or features not at least 2-D.
    TypeError
        Features that are not numeric.
    ImportError
        ``method="umap"`` without umap-learn.

    Examples
    --------
    Three points on a line: one component, the second all zeros.

    >>> y = project([[0.0, 1.0], [1.0, 0.0], [2.0, -1.0]])
    >>> print(np.abs(y).round(3))  # each column's sign is arbitrary, as in any PCA
    [[1.414 0.   ]
     [0.    0.   ]
     [1.414 0.   ]]
    """
    if method not in MIN_SAMPLES:
        raise ValueError(f"unknown method {method!r}; choose one of {', '.join(MIN_SAMPLES)}")
    x = _as_matrix(features)
    _check(x, method)
    if method == "pca":
        return _pca(x)
    if method == "tsne":
        return _tsne(x, seed, _perplexity(perplexity, len(x)), callback, _every(every))
    return _umap(x, seed)


def trustworthiness(features, embedding, n_neighbors: int = 5) -> float:
    """How far the embedding keeps each sample's neighbours: 1 is perfect.

    scikit-learn's :func:`sklearn.manifold.trustworthiness` on the flattened features;
    it holds an (n, n) distance matrix, so mind the memory above ~10,000 samples.

    >>> x = np.random.default_rng(0).normal(size=(30, 2))
    >>> trustworthiness(x, 2 * x)  # a scaled copy keeps every neighbour
    1.0
    >>> round(trustworthiness(x, x[:, :1]), 2)  # one axis of two loses some
    0.85
    """
    from sklearn.manifold import trustworthiness as sklearn_trustworthiness

    x, y = _as_matrix(features), _as_matrix(embedding)
    if len(x) != len(y):
        raise ValueError(f"{len(x)} samples of features but {len(y)} of the embedding")
    if not 1 <= n_neighbors < len(x) / 2:
        raise ValueError(
            f"trustworthiness needs 1 <= n_neighbors < n / 2; got {n_neighbors} for n = {len(x)}"
        )
    return float(sklearn_trustworthiness(x, y, n_neighbors=n_neighbors))


# -- checks -------------------------------------------------------------------
def _as_matrix(features) -> np.ndarray:
    """(n, d) float32 (float32 or narrower input) or float64 (anything else numeric)."""
    x = np.asarray(features)
    if not (np.issubdtype(x.dtype, np.number) or x.dtype == bool) or np.iscomplexobj(x):
        raise TypeError(f"features must be real numbers; got dtype {x.dtype}")
    if x.ndim < 2:
        raise ValueError(f"features must be (samples, features...), at least 2-D; got {x.shape}")
    if x.shape[0] < 1 or np.prod(x.shape[1:]) < 1:
        raise ValueError(f"features has no samples or no features: shape {x.shape}")
    narrow = np.issubdtype(x.dtype, np.floating) and x.dtype.itemsize <= 4
    return x.reshape(len(x), -1).astype(np.float32 if narrow else np.float64, copy=False)


def _check(x: np.ndarray, method: str) -> None:
    n, need = len(x), MIN_SAMPLES[method]
    if n < need:
        raise ValueError(f"{_NAMES[method]} needs at least {need} samples; got {n}")
    bad = int(np.count_nonzero(~np.isfinite(x).all(axis=1)))
    if bad:
        raise ValueError(f"{bad} of {n} samples have NaN or Inf features; drop them first")
    if (x == x[0]).all():
        raise ValueError(
            f"all {n} samples have the same features (zero variance): there is nothing to project"
        )


def _perplexity(perplexity: float, n: int) -> float:
    if not perplexity > 0:
        raise ValueError(f"perplexity must be > 0; got {perplexity}")
    return min(float(perplexity), (n - 1) / 3)


def _every(every: int) -> int:
    if int(every) < 1:
        raise ValueError(f"every must be >= 1; got {every}")
    return int(every)


def _n_jobs() -> int:
    if N_JOBS is not None:
        return N_JOBS
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, (cores or 1) - 1)


# -- methods ------------------------------------------------------------------
def _principal_components(x: np.ndarray, k: int) -> np.ndarray:
    """scikit-learn's PCA with its own choice of solver ("covariance_eigh" for tall
    data, "full" for small, "randomized" for large and wide), made deterministic."""
    from sklearn.decomposition import PCA

    return PCA(n_components=k, random_state=0).fit_transform(x)


def _pca(x: np.ndarray) -> np.ndarray:
    out = np.zeros((len(x), 2), np.float32)
    if x.shape[1] == 1:
        out[:, 0] = x[:, 0] - x[:, 0].mean()
    else:
        out[:] = _principal_components(x, 2)
    return out


def _tsne(x: np.ndarray, seed: int, perplexity: float, callback, every: int) -> np.ndarray:
    """openTSNE's two phases (early exaggeration, then plain), as ``TSNE.fit`` runs them,
    with ``callback`` numbering iterations across both."""
    from openTSNE import TSNE
    from openTSNE.tsne import OptimizationInterrupt

    n = len(x)
    if x.shape[1] > TSNE_PCA_DIMS:
        x = _principal_components(x, min(TSNE_PCA_DIMS, n))
    if x.shape[1] == 1:  # openTSNE's PCA start needs two columns; the second stays 0
        x = np.c_[x, np.zeros_like(x)]
    tsne = TSNE(
        perplexity=perplexity,
        negative_gradient_method="bh" if n < TSNE_FFT_FROM else "fft",
        neighbors="exact" if n <= TSNE_EXACT_NEIGHBOURS_UP_TO else "annoy",
        n_jobs=_n_jobs(),
        random_state=seed,
    )
    embedding = tsne.prepare_initial(np.ascontiguousarray(x, dtype=np.float64))
    phases = [
        (0, tsne.early_exaggeration_iter, tsne.early_exaggeration, tsne.initial_momentum),
        (tsne.early_exaggeration_iter, tsne.n_iter, tsne.exaggeration, tsne.final_momentum),
    ]
    try:
        for offset, n_iter, exaggeration, momentum in phases:
            embedding = embedding.optimize(
                n_iter,
                exaggeration=exaggeration,
                momentum=momentum,
                callbacks=None if callback is None else [_relay(callback, offset)],
                callbacks_every_iters=every,
                inplace=True,
                propagate_exception=True,
            )
    except OptimizationInterrupt as stop:
        embedding = stop.final_embedding
    return np.array(embedding, dtype=np.float32)


def _relay(callback: Callback, offset: int):
    """openTSNE's ``(iteration, error, embedding)`` callback from ours."""

    def relay(iteration: int, error: float, embedding) -> bool:
        return bool(callback(offset + iteration, np.array(embedding, dtype=np.float32)))

    return relay


def _umap(x: np.ndarray, seed: int) -> np.ndarray:
    try:
        import umap
    except ImportError as missing:
        raise ImportError(
            'method="umap" needs the optional umap-learn package: pip install "nnwidgets[umap]"'
        ) from missing
    reducer = umap.UMAP(n_components=2, random_state=seed)
    return np.asarray(reducer.fit_transform(x), dtype=np.float32)
