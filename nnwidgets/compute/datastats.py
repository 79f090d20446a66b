"""The data itself, before any model: class balance, value distributions, per-sample
statistics and their outliers. Pure numpy; nothing here touches a model or a widget.

Outliers are found with Iglewicz and Hoaglin's *modified z-score* of each per-sample
statistic: ``z = 0.6745 (v - median) / MAD`` (MAD, the median absolute deviation, is
0.6745 standard deviations for normal data), and a sample whose ``|z|`` on any
statistic exceeds :data:`OUTLIER_Z` (3.5, their recommendation) is an outlier. When
``MAD = 0`` (more than half of the samples share one value) the mean absolute
deviation stands in: ``z = (v - median) / (1.2533 · MeanAD)``; when that is 0 too,
every sample has the same value and none is an outlier. A sample holding NaN or Inf
is always an outlier (score ``inf``), and listed apart.

>>> x = np.ones((50, 4, 4)) + np.random.default_rng(0).normal(0, 0.1, (50, 4, 4))
>>> x[5] *= 50
>>> stats = sample_stats(x)
>>> stats.outliers, stats.nonfinite
((5,), ())
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .tokens import PAD

#: Bins of a histogram at most.
MAX_BINS = 60
#: The modified z-score beyond which a sample is an outlier (Iglewicz and Hoaglin).
OUTLIER_Z = 3.5
#: Points of a scatter drawn at most (a seeded sample beyond).
MAX_POINTS = 10_000
#: Values a histogram counts at most (a seeded sample of whole samples beyond).
MAX_VALUES = 4_000_000
SEED = 0
#: How many times wider than the non-outliers' values every value may spread before
#: the bins span only the former (the outliers' values beyond are counted apart).
SQUEEZE = 2.0
#: Samples whose statistics are computed in one go (bounds the float64 copy).
CHUNK = 512


@dataclass(frozen=True)
class Histogram:
    """Counts of the finite values in bins; NaN and Inf counted apart.

    Attributes
    ----------
    edges : numpy.ndarray
        ``(bins + 1,)`` bin edges (the last bin includes its right edge).
    counts : numpy.ndarray
        ``(bins,)`` int64.
    nan, inf : int
        Values that are NaN, and +/-Inf (in no bin).
    outside : int
        Finite values beyond the edges (in no bin).
    """

    edges: np.ndarray
    counts: np.ndarray
    nan: int = 0
    inf: int = 0
    outside: int = 0

    @property
    def centres(self) -> np.ndarray:
        """The middle of each bin."""
        return (self.edges[:-1] + self.edges[1:]) / 2

    @property
    def total(self) -> int:
        """How many finite values were counted."""
        return int(self.counts.sum())


def _finite(values) -> tuple[np.ndarray, int, int]:
    flat = np.asarray(values).reshape(-1)
    if flat.dtype.kind not in "fc":
        return flat, 0, 0
    ok = np.isfinite(flat)
    if ok.all():
        return flat, 0, 0
    nan = int(np.isnan(flat).sum())
    return flat[ok], nan, int(flat.size - ok.sum() - nan)


def lattice_step(flat: np.ndarray) -> float:
    """The step of an evenly spaced grid holding every value (whole numbers: 1 or
    more; 0 when the values are not on one, or are all the same).

    >>> lattice_step(np.array([0.0, 0.25, 1.0])), lattice_step(np.array([0.1, 0.35, 1.0]))
    (0.25, 0.0)
    """
    flat = np.asarray(flat).reshape(-1)
    if flat.size < 2:
        return 0.0
    unique = np.unique(flat[:: max(1, flat.size // 100_000)])
    if unique.size < 2:
        return 0.0
    lo, step = float(unique[0]), float(np.diff(unique).min())
    if flat.dtype.kind in "iub":
        return step if np.all((flat - lo) % step == 0) else 1.0
    if not np.isfinite(step) or (float(unique[-1]) - lo) / step > 100_000:
        return 0.0
    k = (flat - lo) / step
    return step if np.all(np.abs(k - np.round(k)) < 1e-3) else 0.0


def bin_edges(values, bins: int = MAX_BINS) -> np.ndarray:
    """At most ``bins`` equal bins over the finite values. Values on an evenly spaced
    grid (whole numbers, 8-bit pixels scaled to 0..1) get bins centred on the grid's
    points, each holding as many of them (no comb of empty bins, no bin holding more
    points than another).

    >>> bin_edges(np.array([0, 1, 2, 2])).tolist()
    [-0.5, 0.5, 1.5, 2.5]
    >>> len(bin_edges(np.arange(17) / 16)) - 1, len(bin_edges(np.arange(256))) - 1
    (17, 52)
    >>> len(bin_edges(np.linspace(0, 1, 1000) ** 2)) - 1
    60
    """
    flat = _finite(values)[0]
    if flat.size == 0:
        return np.array([0.0, 1.0])
    lo, hi = float(flat.min()), float(flat.max())
    step = lattice_step(flat) or (1.0 if lo == hi and lo == round(lo) else 0.0)
    if step:
        levels = int(round((hi - lo) / step)) + 1
        width = -(-levels // bins)
        count = -(-levels // width)
        return lo + step * (width * np.arange(count + 1, dtype=np.float64) - 0.5)
    if lo == hi:
        lo, hi = lo - 0.5, hi + 0.5
    return np.linspace(lo, hi, bins + 1)


def histogram(values, edges=None, bins: int = MAX_BINS) -> Histogram:
    """Count the finite values of ``values`` in ``edges`` (default: :func:`bin_edges`).

    >>> h = histogram(np.array([0.0, 0.5, 1.0, 7.0, np.nan, np.inf]), np.array([0.0, 0.5, 1.0]))
    >>> h.counts.tolist(), h.nan, h.inf, h.outside
    ([1, 2], 1, 1, 1)
    """
    flat, nan, inf = _finite(values)
    edges = bin_edges(flat, bins) if edges is None else np.asarray(edges, dtype=np.float64)
    counts, _ = np.histogram(flat, bins=edges)
    return Histogram(edges, counts.astype(np.int64), nan, inf, int(flat.size - counts.sum()))


def value_rows(n: int, per_sample: int, limit: int = MAX_VALUES, seed: int = SEED):
    """The samples whose values a histogram counts: all (None) when ``n`` samples of
    ``per_sample`` values fit in ``limit``, else a sorted seeded sample of them.

    >>> value_rows(10, 5) is None, len(value_rows(1000, 100, limit=5000))
    (True, 50)
    """
    if n * max(per_sample, 1) <= limit:
        return None
    keep = max(1, limit // max(per_sample, 1))
    return np.sort(np.random.default_rng(seed).choice(n, size=keep, replace=False))


# -- per-sample statistics and outliers -----------------------------------
def robust_z(values) -> np.ndarray:
    """The modified z-score of each value (see the module docstring); NaN stays NaN.

    >>> robust_z(np.array([1.0, 2.0, 3.0, 4.0, 100.0])).round(2).tolist()
    [-1.35, -0.67, 0.0, 0.67, 65.43]
    >>> robust_z(np.array([5.0, 5.0, 5.0, 6.0])).round(2).tolist()  # MAD = 0
    [0.0, 0.0, 0.0, 3.19]
    >>> robust_z(np.full(3, 7.0)).tolist()
    [0.0, 0.0, 0.0]
    """
    v = np.asarray(values, dtype=np.float64)
    ok = np.isfinite(v)
    if not ok.any():
        return np.full(v.shape, np.nan)
    med = float(np.median(v[ok]))
    dev = np.abs(v[ok] - med)
    mad = float(np.median(dev))
    if mad > 0:
        scale = mad / 0.6745
    else:
        scale = 1.2533 * float(dev.mean())
    with np.errstate(all="ignore"):
        z = (v - med) / scale if scale > 0 else np.where(ok, 0.0, np.nan)
    return np.where(ok, z, np.nan)


@dataclass(frozen=True)
class SampleStats:
    """Per-sample statistics, their outlier scores and the outliers.

    Attributes
    ----------
    names : tuple of str
        The statistics, e.g. ``("mean", "std")`` or ``("length", "distinct tokens")``.
    columns : numpy.ndarray
        ``(n, len(names))`` float64, over each sample's finite values (NaN when a
        sample has none).
    score : numpy.ndarray
        ``(n,)`` the largest ``|modified z|`` over the statistics; ``inf`` for a
        sample with NaN or Inf values.
    nonfinite_counts : numpy.ndarray
        ``(n,)`` NaN and Inf values in each sample.
    threshold : float
        The score beyond which a sample is an outlier.
    """

    names: tuple
    columns: np.ndarray
    score: np.ndarray
    nonfinite_counts: np.ndarray
    threshold: float = OUTLIER_Z

    @property
    def outliers(self) -> tuple[int, ...]:
        """Indices of the outliers (NaN / Inf samples included), most extreme first."""
        idx = np.flatnonzero(self.score > self.threshold)
        order = np.argsort(-self.score[idx], kind="stable")
        return tuple(int(i) for i in idx[order])

    @property
    def nonfinite(self) -> tuple[int, ...]:
        """Indices of the samples holding NaN or Inf."""
        return tuple(int(i) for i in np.flatnonzero(self.nonfinite_counts))


def _scores(columns: np.ndarray, bad: np.ndarray, threshold: float) -> np.ndarray:
    z = np.column_stack([np.abs(robust_z(c)) for c in columns.T]) if columns.size else None
    score = np.zeros(len(bad)) if z is None else np.nanmax(np.nan_to_num(z, nan=-1.0), axis=1)
    return np.where(bad > 0, np.inf, np.maximum(score, 0.0))


def sample_stats(x, threshold: float = OUTLIER_Z) -> SampleStats:
    """Mean and standard deviation of each sample's finite values (``x`` has the batch
    axis first), scored for outliers.

    >>> s = sample_stats(np.array([[1.0, 3.0], [2.0, np.nan]]))
    >>> s.columns.tolist(), s.nonfinite
    ([[2.0, 1.0], [2.0, 0.0]], (1,))
    """
    x = np.asarray(x)
    n = x.shape[0]
    columns, bad = np.full((n, 2), np.nan), np.zeros(n, dtype=np.int64)
    for start in range(0, n, CHUNK):
        part = x[start : start + CHUNK].reshape(min(CHUNK, n - start), -1).astype(np.float64)
        ok = np.isfinite(part)
        count = ok.sum(axis=1)
        with np.errstate(all="ignore"):
            mean = np.where(ok, part, 0.0).sum(axis=1) / count
            var = (np.where(ok, part - mean[:, None], 0.0) ** 2).sum(axis=1) / count
        columns[start : start + len(part)] = np.column_stack([mean, np.sqrt(var)])
        bad[start : start + len(part)] = part.shape[1] - count
    return SampleStats(("mean", "std"), columns, _scores(columns, bad, threshold), bad, threshold)


def token_lengths(ids, pad: int = PAD) -> np.ndarray:
    """Tokens in each sequence that are not padding.

    >>> token_lengths(np.array([[0, 0, 4, 5], [3, 0, 0, 0]])).tolist()
    [2, 1]
    """
    ids = np.asarray(ids)
    return (ids.reshape(ids.shape[0], -1) != pad).sum(axis=1)


def token_stats(ids, pad: int = PAD, threshold: float = OUTLIER_Z) -> SampleStats:
    """Length and distinct tokens of each sequence of ids, scored for outliers.

    >>> token_stats(np.array([[0, 4, 4, 5], [3, 0, 0, 0]])).columns.tolist()
    [[3.0, 2.0], [1.0, 1.0]]
    """
    ids = np.asarray(ids)
    flat = np.sort(ids.reshape(ids.shape[0], -1), axis=1)
    real = flat != pad
    new = np.ones_like(real)
    new[:, 1:] = flat[:, 1:] != flat[:, :-1]
    columns = np.column_stack([real.sum(axis=1), (new & real).sum(axis=1)]).astype(np.float64)
    bad = np.zeros(len(ids), dtype=np.int64)
    if flat.dtype.kind == "f":
        bad = (~np.isfinite(flat)).sum(axis=1)
    names = ("length", "distinct tokens")
    return SampleStats(names, columns, _scores(columns, bad, threshold), bad, threshold)


def top_tokens(ids, k: int = 20, pad: int = PAD) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` most frequent ids (padding left out) and their counts, most first.

    >>> [a.tolist() for a in top_tokens(np.array([[0, 7, 7, 3], [7, 3, 2, 0]]), k=2)]
    [[7, 3], [3, 2]]
    """
    flat = np.asarray(ids).reshape(-1)
    flat = flat[(flat != pad) & np.isfinite(flat)] if flat.dtype.kind == "f" else flat[flat != pad]
    values, counts = np.unique(flat, return_counts=True)
    order = np.lexsort((values, -counts))[:k]
    return values[order], counts[order]


def plotted(n: int, first=(), cap: int = MAX_POINTS, seed: int = SEED) -> np.ndarray:
    """The samples a scatter draws: all when ``n <= cap``, else ``first`` (the
    outliers, up to ``cap``) and a seeded sample of the others, sorted.

    >>> plotted(5).tolist(), len(plotted(50_000, first=[3])), 3 in plotted(50_000, [3])
    ([0, 1, 2, 3, 4], 10000, True)
    """
    if n <= cap:
        return np.arange(n)
    first = np.unique(np.asarray(first, dtype=np.int64))[:cap]
    rest = np.setdiff1d(np.arange(n), first)
    more = np.random.default_rng(seed).choice(rest, size=cap - len(first), replace=False)
    return np.sort(np.concatenate([first, more]))


# -- classes ----------------------------------------------------------------
def class_counts(truth, n_classes: int = 0) -> tuple[np.ndarray, int]:
    """Samples (or, for ``(n, h, w)`` masks, pixels) of each class, and how many have
    no known class (``-1``).

    >>> counts, unknown = class_counts(np.array([0, 2, 2, -1]), n_classes=3)
    >>> counts.tolist(), unknown
    ([1, 0, 2], 1)
    """
    flat = np.asarray(truth).reshape(-1)
    known = flat[flat >= 0]
    return np.bincount(known, minlength=n_classes).astype(np.int64), int(flat.size - known.size)


def misclassified(truth, predicted) -> np.ndarray:
    """Indices of the samples with a known class that the model got wrong.

    >>> misclassified(np.array([1, 2, -1, 0]), np.array([1, 0, 3, 0])).tolist()
    [1]
    """
    truth, predicted = np.asarray(truth), np.asarray(predicted)
    return np.flatnonzero((truth >= 0) & (predicted != truth))


def of_class(truth, c: int) -> np.ndarray:
    """Indices of the samples of class ``c`` (for masks: those with a pixel of it).

    >>> of_class(np.array([1, 2, 1]), 1).tolist()
    [0, 2]
    """
    truth = np.asarray(truth)
    hit = truth == c
    return np.flatnonzero(hit.reshape(len(truth), -1).any(axis=1) if truth.ndim > 1 else hit)


# -- one input's data, summarised once ----------------------------------------------
class DataSummary:
    """Everything the data explorer draws from one input's samples (and the true
    classes), computed on first use and kept: it depends on the data only, never on
    the model's weights.

    Parameters
    ----------
    x : numpy.ndarray
        The samples, batch axis first.
    kind : str
        The input's kind (``"image"``, ``"tokens"``, ``"sequence"``, ``"tabular"``,
        ``"other"``).
    truth : numpy.ndarray, optional
        ``(n,)`` true classes (``-1`` unknown) or ``(n, h, w)`` true masks.
    n_classes : int
        Classes at least (more when ``truth`` holds higher ones).

    >>> s = DataSummary(np.arange(12.0).reshape(4, 3), "tabular", np.array([0, 1, 1, 0]))
    >>> s.counts.tolist(), s.n_features, s.histograms(0, 1)[1].total
    ([2, 2], 3, 2)
    """

    def __init__(self, x, kind: str, truth=None, n_classes: int = 0):
        self.x, self.kind = np.asarray(x), kind
        self.n = len(self.x)
        self.truth = None if truth is None else np.asarray(truth)
        self.counts, self.unknown = np.zeros(0, np.int64), 0
        if self.truth is not None:
            self.counts, self.unknown = class_counts(self.truth, n_classes)
        self.pixels = self.truth is not None and self.truth.ndim > 1
        self.rows = value_rows(self.n, self.x[0].size if self.n else 0)
        self._cache: dict = {}

    @property
    def n_classes(self) -> int:
        return len(self.counts)

    @property
    def n_features(self) -> int:
        """Features (the last axis: a table's columns, a sequence's features, an
        image's channels) a histogram can be restricted to (0: none to pick)."""
        x = self.x
        if self.kind == "tokens" or x.ndim < 2 or (self.kind == "image" and x.ndim < 4):
            return 0
        n = int(x.shape[-1]) if x.ndim > 2 or self.kind == "tabular" else 0
        return n if n > 1 or self.kind == "tabular" else 0

    def _kept(self, key, make):
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]

    @property
    def stats(self) -> SampleStats:
        """Per-sample statistics (length and distinct tokens for token ids, else mean
        and standard deviation) with their outliers."""
        make = token_stats if self.kind == "tokens" else sample_stats
        return self._kept("stats", lambda: make(self.x))

    def of_class(self, c: int | None) -> np.ndarray:
        """The samples of class ``c`` (every sample for None)."""
        if c is None or self.truth is None:
            return np.arange(self.n)
        return self._kept(("of", c), lambda: of_class(self.truth, c))

    def values(self, feature: int | None, c: int | None = None, without=()) -> np.ndarray:
        """The values a histogram counts: token lengths, or the input's values (of one
        feature when ``feature`` is not None; of one class's samples, or pixels for
        masks of the input's size, when ``c`` is not None; of :attr:`rows` at most),
        leaving out the samples ``without``."""
        rows = self.of_class(None if self.pixels and self.kind != "tokens" else c)
        if self.rows is not None and self.kind != "tokens":
            rows = np.intersect1d(rows, self.rows)
        if len(without):
            rows = np.setdiff1d(rows, without)
        if self.kind == "tokens":
            return self.stats.columns[rows, 0]
        x = self.x[rows]
        if c is not None and self.pixels:
            mask = self.truth[rows] == c
            x = x[mask] if x.shape[: mask.ndim] == mask.shape else x[mask.any(axis=(1, 2))]
        return x if feature is None else x[..., feature]

    def edges(self, feature: int | None) -> np.ndarray:
        """Bins over every value, or over the values of the samples that are not
        outliers when those span less than :data:`SQUEEZE` times less (one sample
        scaled 50 times would squeeze every other one into a bin or two)."""

        def make():
            every = _finite(self.values(feature))[0]
            outliers = self.stats.outliers
            if not outliers or every.size == 0:
                return bin_edges(every)
            inliers = _finite(self.values(feature, without=np.array(outliers)))[0]
            if inliers.size == 0:
                return bin_edges(every)
            span = float(every.max() - every.min())
            if span <= SQUEEZE * float(inliers.max() - inliers.min()):
                return bin_edges(every)
            return bin_edges(inliers)

        return self._kept(("edges", feature), make)

    def histograms(self, feature: int | None, c: int | None = None):
        """``(over every sample, over class c or None)`` on the same bins (the values
        of outlier samples beyond them are counted in ``outside``)."""
        edges = self.edges(feature)
        overall = self._kept(("hist", feature), lambda: histogram(self.values(feature), edges))
        if c is None:
            return overall, None
        part = self._kept(("hist", feature, c), lambda: histogram(self.values(feature, c), edges))
        return overall, part

    def top_tokens(self, c: int | None = None, k: int = 12):
        """The most frequent token ids and their counts (of class ``c``'s samples)."""
        return self._kept(("top", c, k), lambda: top_tokens(self.x[self.of_class(c)], k))
