"""nnwidgets.projection: PCA equal to scikit-learn's up to sign, t-SNE as trustworthy as
scikit-learn's TSNE on the digits, its callback, and the errors."""

from __future__ import annotations

import importlib.util
import sys
import types

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA

from nnwidgets import projection as P


@pytest.fixture(scope="module")
def digits() -> np.ndarray:
    return load_digits().data  # (1797, 64) float64, bundled with scikit-learn


def assert_equal_up_to_sign(ours: np.ndarray, reference: np.ndarray, atol: float) -> None:
    assert ours.shape == reference.shape
    for j in range(reference.shape[1]):
        sign = 1.0 if ours[:, j] @ reference[:, j] >= 0 else -1.0
        np.testing.assert_allclose(ours[:, j], sign * reference[:, j], atol=atol)


# -- PCA ----------------------------------------------------------------------
@pytest.mark.parametrize("data", ["digits", "random 300x20"])
def test_pca_equals_sklearn_up_to_sign(data, digits):
    x = digits if data == "digits" else np.random.default_rng(0).normal(size=(300, 20))
    ours = P.project(x, "pca")
    assert ours.dtype == np.float32 and ours.shape == (len(x), 2)
    reference = PCA(n_components=2).fit_transform(x)
    assert_equal_up_to_sign(ours, reference, atol=1e-4 * np.abs(reference).max())


def test_pca_of_wide_features_is_fast_path_and_still_equal():
    """1,500 × 1,050 (sklearn's "auto" picks its randomized solver here, which we seed):
    equal up to sign to an exact solver on features with a decaying spectrum, as layers'
    activations have (measured: 3e-8 of the largest coordinate; ours is float32)."""
    rng = np.random.default_rng(1)
    scales = np.array([10.0, 6.0, 3.0, 2.0, 1.5])[:, None]
    x = rng.normal(size=(1500, 5)) @ (scales * rng.normal(size=(5, 1050)))
    x += 0.5 * rng.normal(size=x.shape)
    exact = PCA(n_components=2, svd_solver="covariance_eigh").fit_transform(x)
    ours = P.project(x, "pca")
    assert_equal_up_to_sign(ours, exact, atol=1e-5 * np.abs(exact).max())
    np.testing.assert_array_equal(ours, P.project(x, "pca"))


def test_pca_flattens_and_handles_one_feature():
    x = np.random.default_rng(2).normal(size=(30, 4, 3)).astype(np.float32)
    np.testing.assert_array_equal(P.project(x), P.project(x.reshape(30, 12)))
    one = np.arange(6.0)[:, None]
    np.testing.assert_allclose(P.project(one), np.c_[one[:, 0] - 2.5, np.zeros(6)])
    line = np.random.default_rng(3).normal(size=(40, 1))
    assert np.isfinite(P.project(line, "tsne")).all()


# -- t-SNE --------------------------------------------------------------------
def test_tsne_is_as_trustworthy_as_sklearn(digits):
    from sklearn.manifold import TSNE, trustworthiness

    x = digits[:500]  # (500 digits keep this test near 10 s; the benchmark runs all 1,797)
    ours = P.project(x, "tsne", seed=0)
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):  # (OpenMP threads on a busy machine: 10x slower, same result)
        theirs = TSNE(init="pca", random_state=0).fit_transform(x)
    t_ours = trustworthiness(x, ours, n_neighbors=5)
    t_theirs = trustworthiness(x, theirs, n_neighbors=5)
    assert P.trustworthiness(x, ours) == pytest.approx(t_ours)
    # Both are ~0.995, and ours moves with the seed alone (seeds 0-4: 0.9937-0.9950, while
    # scikit-learn's PCA-started one stays at 0.9951): 0.005 of slack asks "no worse"
    # without betting on one seed's luck, and still fails a broken t-SNE (PCA gives 0.83).
    assert t_ours >= t_theirs - 0.005, (t_ours, t_theirs)


def test_tsne_callback_sees_every_step_and_can_stop(digits):
    x = digits[:200]
    seen: list[tuple[int, tuple]] = []
    full = P.project(x, "tsne", callback=lambda i, e: seen.append((i, e.shape)), every=50)
    assert [i for i, _ in seen] == list(range(50, 751, 50))  # both phases, numbered on
    assert {s for _, s in seen} == {(200, 2)}

    kept: list[np.ndarray] = []

    def stop_at_100(iteration, embedding):
        kept.append(embedding)
        return iteration >= 100

    stopped = P.project(x, "tsne", callback=stop_at_100)
    assert len(kept) == 4  # 25, 50, 75, 100
    assert kept[-1].dtype == np.float32 and kept[0] is not kept[-1]
    np.testing.assert_array_equal(stopped, kept[-1])
    assert not np.allclose(stopped, full)


def test_tsne_same_seed_same_embedding(digits):
    x = digits[:150]
    a, b = P.project(x, "tsne", seed=3), P.project(x, "tsne", seed=3)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, P.project(x, "tsne", seed=4))


def test_tsne_lowers_perplexity_for_few_samples(digits):
    y = P.project(digits[:12], "tsne")
    assert y.shape == (12, 2) and np.isfinite(y).all()


# -- errors -------------------------------------------------------------------
def test_too_few_samples_names_the_minimum(digits):
    with pytest.raises(ValueError, match="t-SNE needs at least 10 samples; got 5"):
        P.project(digits[:5], "tsne")
    with pytest.raises(ValueError, match="PCA needs at least 2 samples; got 1"):
        P.project(digits[:1], "pca")
    assert P.MIN_SAMPLES["pca"] == 2 and P.MIN_SAMPLES["tsne"] > 2


@pytest.mark.parametrize("method", ["pca", "tsne"])
def test_identical_samples_are_refused(method):
    with pytest.raises(ValueError, match=r"all 20 samples have the same features \(zero var"):
        P.project(np.full((20, 8), 3.0), method)


def test_nan_rows_are_counted():
    x = np.random.default_rng(0).normal(size=(200, 5))
    x[[3, 50], 1], x[7, 4] = np.nan, np.inf
    with pytest.raises(ValueError, match="3 of 200 samples have NaN or Inf features; drop"):
        P.project(x, "tsne")


def test_unknown_method_lists_the_methods():
    with pytest.raises(ValueError, match="unknown method 'lda'; choose one of pca, tsne, umap"):
        P.project(np.eye(4), "lda")


@pytest.mark.parametrize(
    "bad, error, match",
    [
        (np.arange(5.0), ValueError, "at least 2-D"),
        (np.zeros((0, 3)), ValueError, "no samples"),
        (np.array([["a", "b"], ["c", "d"]]), TypeError, "real numbers"),
        (np.ones((3, 2), complex), TypeError, "real numbers"),
    ],
)
def test_bad_features(bad, error, match):
    with pytest.raises(error, match=match):
        P.project(bad)


@pytest.mark.skipif(importlib.util.find_spec("umap") is not None, reason="umap-learn installed")
def test_umap_without_umap_learn_says_how_to_install():
    with pytest.raises(ImportError, match=r'pip install "nnwidgets\[umap\]"'):
        P.project(np.random.default_rng(0).normal(size=(20, 3)), "umap")


def test_umap_is_called_with_the_seed(monkeypatch):
    """The wiring only (umap-learn itself is optional): a stand-in module."""
    calls = []

    class UMAP:
        def __init__(self, **kwargs):
            calls.append(kwargs)

        def fit_transform(self, x):
            return x[:, :2] * 2

    monkeypatch.setitem(sys.modules, "umap", types.SimpleNamespace(UMAP=UMAP))
    x = np.random.default_rng(0).normal(size=(20, 3))
    y = P.project(x, "umap", seed=7)
    assert calls == [{"n_components": 2, "random_state": 7}]
    assert y.dtype == np.float32 and y.shape == (20, 2)
