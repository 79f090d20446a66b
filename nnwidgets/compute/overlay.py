"""Attribution maps as pictures: a map blended over its input, tokens coloured by their
share, a heat strip under a sequence. Pure numpy in, numpy, bytes or HTML out.

Maps that are never negative (Grad-CAM, saliency) use :data:`HEAT` (black, red,
yellow, white); signed maps (integrated gradients, gradient × embedding, occlusion) a
blue (against) to red (for) map centred on zero.
"""

from __future__ import annotations

import html

import numpy as np

from .imaging import colorbar_html as imaging_colorbar
from .imaging import colormap_lut, finite_range, to_rgb
from .tokens import PAD, spans

#: Anchors of the colour map of maps that are never negative.
HEAT = [(0, 0, 0), (120, 0, 0), (220, 40, 0), (255, 150, 0), (255, 230, 80), (255, 255, 255)]
#: The opacity of a map's zero over the picture, as a share of the opacity asked.
FLOOR = 0.35
#: The colours of a signed attribution: against, for (as RGB).
AGAINST, FOR = (33, 102, 172), (214, 39, 40)


def signed(a) -> bool:
    """Whether a map has negative values (then drawn with a diverging map)."""
    a = np.asarray(a, dtype=np.float64)
    return bool(np.any(a[np.isfinite(a)] < 0))


def heat_lut() -> np.ndarray:
    """The ``(256, 3)`` uint8 lookup table of :data:`HEAT`."""
    anchors = np.asarray(HEAT, dtype=float)
    pos, t = np.linspace(0, 1, len(anchors)), np.linspace(0, 1, 256)
    lut = np.stack([np.interp(t, pos, anchors[:, c]) for c in range(3)], axis=1)
    return np.round(lut).astype(np.uint8)


def colour(a: np.ndarray, diverging: bool | None = None) -> tuple[np.ndarray, float, float, str]:
    """A 2-D map as ``(h, w, 3)`` uint8 with its range and colour map's name:
    ``"rdbu"`` centred on zero when ``diverging`` (default: when the map has negative
    values), else ``"heat"`` from zero; NaN in magenta.

    >>> rgb, lo, hi, cmap = colour(np.array([[0.0, 2.0]]))
    >>> rgb.shape, lo, hi, cmap
    ((1, 2, 3), 0.0, 2.0, 'heat')
    """
    a = np.asarray(a, dtype=np.float64)
    if signed(a) if diverging is None else diverging:
        lo, hi = finite_range(a, symmetric=True)
        return to_rgb(a, lo, hi, "rdbu"), lo, hi, "rdbu"
    lo, hi = finite_range(a)
    lo = 0.0 if np.isfinite(a).any() else lo
    hi = hi if hi > lo else lo + 1.0
    rgb = to_rgb(a, lo, hi, "gray")  # grey levels index the heat table
    bad = ~np.isfinite(a)
    out = heat_lut()[rgb[..., 0]]
    out[bad] = rgb[bad]
    return out, lo, hi, "heat"


def css_gradient(cmap: str, steps: int = 9) -> str:
    """A CSS ``linear-gradient`` of ``"heat"`` or one of the imaging colour maps."""
    lut = heat_lut() if cmap == "heat" else colormap_lut(cmap)
    stops = ", ".join(
        f"rgb({r},{g},{b})" for r, g, b in lut[np.linspace(0, 255, steps).astype(int)]
    )
    return f"linear-gradient(to right, {stops})"


def colorbar_html(cmap: str, lo: float, hi: float, caption: str = "") -> str:
    """A small horizontal colour bar with its range and a caption (the pictures'
    colour bar, narrower)."""
    return imaging_colorbar(css_gradient(cmap), lo, hi, caption, width=180)


def resize_bilinear(a: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """A 2-D map resized to ``shape`` bilinearly, pixel centres aligned (as
    ``tf.image.resize``); NaN spreads to the pixels it touches.

    >>> resize_bilinear(np.array([[0.0, 1.0]]), (1, 4)).tolist()
    [[0.0, 0.25, 0.75, 1.0]]
    """
    a = np.asarray(a, dtype=np.float64)
    if a.ndim == 1:
        a = a[None, :]
    rows = _weights(a.shape[0], shape[0])
    cols = _weights(a.shape[1], shape[1])
    return rows @ a @ cols.T


def _weights(n: int, m: int) -> np.ndarray:
    """``(m, n)`` interpolation weights from ``n`` cells to ``m``."""
    pos = np.clip((np.arange(m) + 0.5) * n / m - 0.5, 0, n - 1)
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, n - 1)
    frac = pos - lo
    w = np.zeros((m, n))
    w[np.arange(m), lo] += 1 - frac
    w[np.arange(m), hi] += frac
    return w


def resample(values: np.ndarray, n: int) -> np.ndarray:
    """A 1-D profile (a Grad-CAM over steps, occlusion windows) stretched to ``n``
    steps, bilinearly.

    >>> resample(np.array([1.0, 3.0]), 4).tolist()
    [1.0, 1.5, 2.5, 3.0]
    """
    values = np.asarray(values, dtype=np.float64).reshape(-1)
    if values.size == n:
        return values
    return resize_bilinear(values[None, :], (1, n))[0]


def blend(picture: np.ndarray, heat: np.ndarray, opacity) -> np.ndarray:
    """``heat`` over ``picture`` (both ``(h, w, 3)`` uint8) with ``opacity`` in 0..1
    (one number, or one per pixel ``(h, w)``).

    >>> blend(np.zeros((1, 1, 3), np.uint8), np.full((1, 1, 3), 200, np.uint8), 0.5)[0, 0].tolist()
    [100, 100, 100]
    """
    base = picture if picture.ndim == 3 else np.repeat(picture[..., None], 3, axis=-1)
    alpha = np.asarray(opacity, dtype=np.float64)
    alpha = alpha[..., None] if alpha.ndim == 2 else alpha
    mixed = base.astype(np.float64) * (1 - alpha) + heat.astype(np.float64) * alpha
    return np.clip(np.round(mixed), 0, 255).astype(np.uint8)


def strength(a: np.ndarray, floor: float = FLOOR) -> np.ndarray:
    """How strongly each value shows over the picture: from ``floor`` (zero) to 1
    (the largest magnitude; NaN too), so that the input stays readable where the map
    says nothing.

    >>> strength(np.array([[0.0, -2.0, 1.0]]), floor=0.5).tolist()
    [[0.5, 1.0, 0.75]]
    """
    a = np.asarray(a, dtype=np.float64)
    finite = np.isfinite(a)
    top = float(np.abs(a[finite]).max()) if finite.any() else 0.0
    scaled = np.abs(np.where(finite, a, 0.0)) / top if top > 0 else np.zeros_like(a)
    return np.where(finite, floor + (1 - floor) * scaled, 1.0)


def overlay(picture: np.ndarray, a: np.ndarray, opacity: float, diverging: bool | None = None):
    """``a`` resized to the picture bilinearly, colour-mapped (see :func:`colour`) and
    blended over it: at ``opacity`` where the map is strongest, less where it is weak
    (:func:`strength`; a signed map's zero, white, not at all). Returns
    ``(rgb, lo, hi, cmap)``.

    >>> rgb, lo, hi, cmap = overlay(np.zeros((8, 8, 3), np.uint8), np.ones((2, 2)), 0.5)
    >>> rgb.shape, cmap
    ((8, 8, 3), 'heat')
    """
    h, w = picture.shape[:2]
    resized = a if a.shape == (h, w) else resize_bilinear(a, (h, w))
    heat, lo, hi, cmap = colour(resized, diverging)
    weight = strength(resized, 0.0 if cmap == "rdbu" else FLOOR)
    return blend(picture, heat, opacity * weight), lo, hi, cmap


def strip(values: np.ndarray, diverging: bool | None = None, width: int = 800, height: int = 8):
    """A per-step attribution as a ``(height, ≤width, 3)`` colour strip (each step a
    whole number of pixels wide when it fits); returns ``(rgb, lo, hi, cmap)``.

    >>> strip(np.arange(100.0))[0].shape
    (8, 800, 3)
    """
    rgb, lo, hi, cmap = colour(np.asarray(values, dtype=np.float64)[None, :], diverging)
    k = max(1, width // max(rgb.shape[1], 1))
    return np.repeat(np.repeat(rgb, height, axis=0), k, axis=1), lo, hi, cmap


# -- tokens -----------------------------------------------------------------------
def token_colour(value: float, scale: float) -> str:
    """A CSS background for a token: red for, blue against, as strong as ``|value|``
    is against ``scale``; NaN magenta."""
    if not np.isfinite(value):
        return "rgb(255,0,255)"
    r, g, b = FOR if value >= 0 else AGAINST
    alpha = 0.0 if scale <= 0 else min(abs(value) / scale, 1.0) * 0.75
    return f"rgba({r},{g},{b},{alpha:.2f})"


def tokens_html(ids, values, vocabulary=None, limit: int = 400) -> str:
    """Token ids as words on a background coloured by their attribution (the numbers
    in each word's tooltip); padding shown as one dimmed note per run, as
    :func:`nnwidgets.compute.tokens.tokens_html` does.

    >>> "good" in tokens_html([0, 2], [0.0, 1.0], lambda i: ["", "x", "good"][i])
    True
    """
    ids = np.asarray(ids).reshape(-1)
    values = np.asarray(values, dtype=np.float64).reshape(-1)
    word = vocabulary or (lambda i: str(int(i)))
    real = values[: ids.size][ids != PAD] if ids.size == values.size else values
    finite = real[np.isfinite(real)]
    scale = float(np.abs(finite).max()) if finite.size else 0.0
    parts, shown = [], 0
    for start, stop, pad in spans(ids):
        if pad:
            where = "pre-" if start == 0 else "post-" if stop == ids.size else ""
            parts.append(
                '<span class="nnw-pad" style="opacity:.55;font-style:italic">'
                f"[{stop - start} {where}padding]</span>"
            )
            continue
        for i in range(start, stop):
            if shown == limit:
                break
            v = values[i] if i < values.size else float("nan")
            parts.append(
                f'<span class="nnw-token" title="position {i}, id {int(ids[i])}, '
                f'attribution {v:+.4g}" style="background:{token_colour(v, scale)};'
                f'padding:0 2px;border-radius:3px">{html.escape(word(ids[i]))}</span>'
            )
            shown += 1
    left = int(np.sum(ids != PAD)) - shown
    if left > 0:
        parts.append(f'<span style="opacity:.7">\u2026 {left} more tokens</span>')
    return (
        '<div class="nnw-tokens" style="font-size:14px;line-height:1.9;max-height:180px;'
        f'overflow-y:auto;white-space:normal;word-break:break-word">{" ".join(parts)}</div>'
    )


def top_items(values, names, k: int = 3) -> str:
    """The ``k`` strongest items for and against as one line of text.

    >>> top_items(np.array([0.5, -0.2, 0.1]), ["a", "b", "c"], k=1)
    'for: a (+0.5) · against: b (-0.2)'
    """
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    v = np.where(np.isfinite(v), v, 0.0)
    order = np.argsort(-v, kind="stable")

    def strongest(indices, sign) -> list[str]:
        seen: dict = {}  # a name once, at its strongest
        for i in indices:
            if sign * v[i] > 0 and names[i] not in seen and len(seen) < k:
                seen[names[i]] = f"{names[i]} ({v[i]:+.3g})"
        return list(seen.values())

    pos, neg = strongest(order, 1), strongest(order[::-1], -1)
    parts = [f"for: {', '.join(pos)}" if pos else "", f"against: {', '.join(neg)}" if neg else ""]
    return " \u00b7 ".join(p for p in parts if p)
