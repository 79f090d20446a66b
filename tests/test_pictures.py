"""Pictures that do not mislead: round blobs stay round, constant channels show their
value, bars grow from zero, integer axes get integer ticks, titles fit, and a layer
without activations shows a message instead of empty charts."""

from __future__ import annotations

import zlib

import numpy as np
import pytest

import nnwidgets as nw
from nnwidgets.compute import display as D
from nnwidgets.compute.imaging import colormap_lut
from nnwidgets.views import panels as P

keras = pytest.importorskip("keras")
L = keras.layers


# -- helpers -----------------------------------------------------------------
def _pixels(panel) -> np.ndarray:
    """The ``(h, w, 3)`` picture a PicturePanel sent (encode_png writes filter-0 rows)."""
    png = bytes(panel.mark.image.value)
    w, h = np.frombuffer(png[16:24], ">u4")
    raw = zlib.decompress(png[png.index(b"IDAT") + 4 : png.index(b"IEND") - 8])
    return np.frombuffer(raw, np.uint8).reshape(h, 1 + 3 * w)[:, 1:].reshape(h, w, 3)


def _shown(widget) -> bool:
    return widget.layout.display != "none"


def _cell_px(panel, m: D.Matrix) -> tuple[float, float]:
    """Width and height in px of one drawn cell of ``m`` in ``panel``."""
    w, h = m.size
    rows, cols = m.values.shape
    x_lo, x_hi = _bounds(panel.x_scale, w)
    y_lo, y_hi = _bounds(panel.y_scale, h)
    plot_w = panel.width - P.MARGIN["left"] - P.MARGIN["right"]
    plot_h = int(panel.figure.layout.height.removesuffix("px")) - P.MARGIN["top"]
    plot_h -= P.MARGIN["bottom"]
    return plot_w / (x_hi - x_lo) * w / cols, plot_h / (y_hi - y_lo) * h / rows


def _bounds(scale, extent=None) -> tuple:
    """A scale's min and max (with ``extent``: the mark's ``0..extent`` where unset)."""
    if extent is None:
        return scale.min, scale.max
    return (0 if scale.min is None else scale.min), (extent if scale.max is None else scale.max)


def _circles(n: int, h: int, w: int, radius: int) -> np.ndarray:
    """``(h, w, n)``: a filled circle in the middle of each of ``n`` maps."""
    yy, xx = np.mgrid[:h, :w]
    disc = ((yy - h / 2 + 0.5) ** 2 + (xx - w / 2 + 0.5) ** 2 <= radius**2).astype(float)
    return np.repeat(disc[:, :, None], n, axis=2)


def _blob_ratio(pic: D.Matrix, tile_h: int, tile_w: int, orig: tuple) -> float:
    """Width / height of the blob in the first tile of a (possibly reduced) grid."""
    ry, rx = pic.values.shape[0] / orig[0], pic.values.shape[1] / orig[1]
    first = pic.values[: int((tile_h + 1) * ry), : int((tile_w + 1) * rx)]
    blob = np.nan_to_num(first) > 0.5
    return blob.any(axis=0).sum() / blob.any(axis=1).sum()


# -- 1. a reduced picture keeps each map's aspect ratio ----------------------
def test_a_reduced_grid_of_maps_keeps_circles_round():
    a = _circles(64, 40, 80, radius=15)
    pic = D.activation_picture(a, per_channel=True)
    orig = (8 * 41 - 1, 8 * 81 - 1)  # 8x8 tiles of 40x80 with 1-cell gaps
    assert pic.values.shape[0] < orig[0] and pic.values.shape[1] < orig[1]  # reduced
    assert pic.values.shape[0] <= D.MAX_PICTURE[0] and pic.values.shape[1] <= D.MAX_PICTURE[1]
    assert _blob_ratio(pic, 40, 80, orig) == pytest.approx(1.0, abs=0.1)
    assert pic.gap is not None and pic.gap.shape == pic.values.shape
    panel = P.PicturePanel("grid")
    panel.show(pic, "viridis")
    cw, ch = _cell_px(panel, pic)
    assert cw == pytest.approx(ch, rel=0.02)  # drawn with square cells too


def test_conv_filters_and_one_channel_keep_their_aspect():
    kernel = _circles(64, 40, 80, radius=15)[:, :, None, :]  # (kh, kw, 1, cout)
    grid = D.weight_picture(kernel, conv=True)
    assert grid.values.shape[1] < 8 * 81 - 1  # reduced
    assert _blob_ratio(grid, 40, 80, (8 * 41 - 1, 8 * 81 - 1)) == pytest.approx(1.0, abs=0.1)
    one = D.channel_picture(_circles(2, 300, 900, radius=120), 1)
    assert one.values.shape == (100, 300) and one.size == (900, 300)  # 3x3 blocks, not 1x3
    blob = one.values > 0.5
    assert blob.any(axis=0).sum() / blob.any(axis=1).sum() == pytest.approx(1.0, abs=0.05)


def test_matrices_are_reduced_per_axis():
    dense = D.weight_picture(np.ones((1024, 10)))
    assert dense.values.shape == (342, 10) and not dense.keep_aspect  # 10 columns kept
    seq = D.activation_picture(np.ones((2000, 8)))
    assert seq.values.shape == (400, 8)


@pytest.mark.parametrize("shape", [(200, 20), (7, 300), (3, 3), (40, 80)])
def test_one_channel_is_drawn_with_square_pixels(shape):
    a = np.random.default_rng(0).random((*shape, 2))
    m = D.channel_picture(a, 0)
    panel = P.PicturePanel("one channel")
    panel.show(m, "viridis")
    cw, ch = _cell_px(panel, m)
    assert cw == pytest.approx(ch, rel=0.02), (cw, ch)
    assert list(panel.mark.x) == [0, shape[1]] and list(panel.mark.y) == [shape[0], 0]


def test_a_matrix_fills_the_plot():
    m = D.weight_picture(np.random.default_rng(0).normal(size=(1024, 10)))
    panel = P.PicturePanel("kernel")
    panel.show(m, "rdbu", symmetric=True)
    assert _bounds(panel.x_scale) == _bounds(panel.y_scale) == (None, None)
    assert panel.figure.layout.height == f"{P.PLOT_HEIGHT[1] + 98}px"


# -- 2. constant channels stay visibly constant and say their value ----------
def test_normalise_each_draws_constant_maps_mid_colour():
    maps = np.stack([np.ones((3, 3)), np.zeros((3, 3)), np.arange(9.0).reshape(3, 3)])
    maps = np.concatenate([maps, np.full((1, 3, 3), np.nan)])
    maps[0, 0, 0] = np.nan  # NaN in a constant map stays NaN (drawn magenta)
    out = D.normalise_each(maps)
    assert np.isnan(out[0, 0, 0]) and np.all(out[0][~np.isnan(maps[0])] == 0.5)
    assert np.all(out[1] == 0.5)  # all-zero: mid colour, not the bottom colour
    assert out[2].min() == 0.0 and out[2].max() == 1.0
    assert np.isnan(out[3]).all()  # no finite values: not "constant"
    assert D.constant_maps(maps) == {0: 1.0, 1: 0.0}


def test_float_noise_is_constant_but_small_real_ranges_are_not():
    saturated = np.float32(1.0) - np.float32(6e-8) * np.eye(3, dtype=np.float32)
    small = 1e-3 * np.eye(3)
    assert D.constant_maps(np.stack([saturated.astype(float), small])) == {0: pytest.approx(1.0)}


def test_grid_note_lists_constant_channels_capped():
    a = np.random.default_rng(0).random((5, 5, 12))
    a[..., 4], a[..., 7] = 1.0, 0.0
    note = D.activation_picture(a, per_channel=True).note
    assert "2 constant channels (mid colour): #4 = 1, #7 = 0" in note
    a[..., :10] = 0.25
    note = D.activation_picture(a, per_channel=True).note
    assert (
        "10 constant channels (mid colour): #0 = 0.25, #1 = 0.25, #2 = 0.25, #3 = 0.25, …" in note
    )
    assert "#4" not in note
    assert "constant" not in D.activation_picture(a, per_channel=False).note


def test_one_constant_channel_says_its_value():
    a = np.zeros((4, 4, 3))
    a[..., 1] = -2.5
    assert D.channel_picture(a, 1).note.endswith("constant -2.5")
    a[0, 0, 1] = 1.0
    assert "constant" not in D.channel_picture(a, 1).note


@pytest.fixture
def constant_state():
    """A conv layer with channels #0 = 1, #1 varying, #2 = 0, #3 = 0.25."""
    model = keras.Sequential([keras.Input((6, 6, 1)), L.Conv2D(4, 3, name="conv")])
    kernel = np.zeros((3, 3, 1, 4), "float32")
    kernel[:, :, 0, 1] = np.random.default_rng(0).normal(size=(3, 3))
    model.get_layer("conv").set_weights([kernel, np.array([1.0, 0.0, 0.0, 0.25], "float32")])
    x = np.random.default_rng(1).random((2, 6, 6, 1)).astype("float32")
    return nw.ModelState(model, x)


def test_explorer_shows_constant_channels_in_mid_colour_with_values(constant_state):
    view = nw.ActivationExplorer(constant_state)
    assert "3 constant channels (mid colour): #0 = 1, #2 = 0, #3 = 0.25" in view.panel.bar.value
    rgb = _pixels(view.panel)  # 2x2 tiles of 4x4, 1-cell gaps
    tiles = [rgb[r * 5 : r * 5 + 4, c * 5 : c * 5 + 4] for r, c in ((0, 0), (0, 1), (1, 0), (1, 1))]
    mid, bottom = colormap_lut("viridis")[128], colormap_lut("viridis")[0]
    for i in (0, 2, 3):
        assert (tiles[i] == mid).all(), i
    assert not (tiles[2] == bottom).all()  # a dead channel is not drawn like a low one
    assert len({tuple(p) for p in tiles[1].reshape(-1, 3)}) > 4  # the varying one varies
    view.per_channel = False  # one scale: constants at their own values, no list
    assert "constant" not in view.panel.bar.value
    tiles = _pixels(view.panel)
    assert (tiles[:4, :4] != tiles[5:9, :4]).any()  # #0 = 1 and #2 = 0 differ
    view.close()


# -- 3. bars grow from zero, for any values ----------------------------------
CASES = {
    "all negative": -np.array([3.0, 1.0, 2.0, 0.5]),
    "mixed": np.array([-2.0, 1.0, 3.0, -0.2, 0.0]),
    "all equal": np.full(7, 2.5),
    "all zero": np.zeros(5),
    "nan and inf": np.array([1.0, np.nan, np.inf, -np.inf, -2.0]),
    "one bar": np.array([-0.7]),
    "two bars": np.array([0.3, -0.1]),
    "2000 bars": np.sin(np.arange(2000) / 50.0) - 0.5,
    "tiny": np.array([1e-30, -3e-30]),
    "huge": np.array([1e30, 5e29]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bars_span_zero_and_every_value(case):
    y = CASES[case]
    panel = P.BarPanel("Mean per channel", "channel", "mean", height="220px")
    panel.show(np.arange(y.size), y)
    finite = np.where(np.isfinite(y), y, 0.0)
    lo, hi = panel.y_scale.min, panel.y_scale.max
    assert lo < hi and lo <= min(0.0, finite.min()) and hi >= max(0.0, finite.max())
    assert lo <= 0.0 <= hi and panel.bars.base == 0.0
    ticks = np.asarray(panel.y_axis.tick_values)
    assert ticks[0] == lo and ticks[-1] == hi and 0.0 in ticks
    if finite.min() < 0 < finite.max():
        assert lo < 0 < hi
    if not finite.any():
        assert (lo, hi) == (-1.0, 1.0)  # all zero: the zero line in the middle
    mark = panel.line if y.size > panel.MAX_BARS else panel.bars
    assert mark.visible and not (panel.bars if mark is panel.line else panel.line).visible
    drawn = dict(zip(np.asarray(mark.x).tolist(), np.asarray(mark.y).tolist(), strict=True))
    if mark is panel.bars:  # every value, NaN and Inf as 0
        assert all(drawn[float(i)] == v for i, v in enumerate(finite))
    else:  # the min / max decimation keeps the extremes
        assert min(drawn.values()) == finite.min() and max(drawn.values()) == finite.max()
    x_ticks = np.asarray(panel.x_axis.tick_values)
    assert len(x_ticks) and len(set(x_ticks.tolist())) == len(x_ticks)
    assert np.all(x_ticks == np.round(x_ticks)) and panel.x_axis.tick_format == "d"


def test_a_lone_bar_is_drawn_a_bar_wide():
    panel = P.BarPanel("Activations", "unit", "value")
    panel.show(np.arange(1), np.array([4.0]))
    assert (panel.x_scale.min, panel.x_scale.max) == (-0.5, 0.5)
    # bqplot sizes bars by the spacing of their x: zero bars either side, off the plot
    assert list(panel.bars.x) == [-1.0, 0.0, 1.0] and list(panel.bars.y) == [0.0, 4.0, 0.0]


def test_old_data_of_the_hidden_mark_does_not_stretch_the_scale():
    panel = P.BarPanel("Activations", "unit", "value")
    panel.show(np.arange(2000), np.full(2000, 1e6))
    panel.show(np.arange(3), np.array([-0.5, 0.2, 0.1]))
    assert (panel.y_scale.min, panel.y_scale.max) == (-0.6, 0.2)
    assert (panel.x_scale.min, panel.x_scale.max) == (-0.5, 2.5)


def test_explorer_mean_per_channel_with_negative_means():
    model = keras.Sequential([keras.Input((5, 5, 2)), L.Conv2D(6, 1, name="conv")])
    kernel, _ = model.get_layer("conv").get_weights()
    model.get_layer("conv").set_weights([kernel * 0.0, -np.arange(1.0, 7.0, dtype="float32")])
    view = nw.ActivationExplorer(nw.ModelState(model, np.ones((2, 5, 5, 2), "float32")))
    np.testing.assert_allclose(view.channels.bars.y, -np.arange(1.0, 7.0))
    assert view.channels.y_scale.max == 0.0 and view.channels.y_scale.min <= -6.0
    assert list(view.channels.x_axis.tick_values) == [0, 1, 2, 3, 4, 5]
    view.close()


def test_histogram_counts_get_integer_ticks_and_values_round_ones():
    panel = P.BarPanel("Histogram", "value", "count")
    centres = np.linspace(-0.0375, 0.0375, 40)
    panel.show(centres, np.r_[np.ones(39), 0.0])
    assert list(panel.y_axis.tick_values) == [0, 1] and panel.y_axis.tick_format == "d"
    ticks = np.asarray(panel.x_axis.tick_values)
    assert panel.x_axis.tick_format != "d" and len(ticks) >= 2
    assert len(ticks) * P._tick_room(ticks, False, False) <= 340  # labels do not overlap


# -- 4. integer axes: distinct integer ticks ---------------------------------
@pytest.mark.parametrize("n", [1, 2, 3, 5, 7, 10, 64, 1280])
def test_integer_axes_get_distinct_integer_ticks(n):
    direct = D.integer_ticks(0, n - 1, 6)
    panel = P.BarPanel("Mean per channel", "channel", "mean")
    panel.show(np.arange(n), np.random.default_rng(n).normal(size=n))
    pic = P.PicturePanel("one channel")
    pic.show(D.channel_picture(np.ones((n, n, 1)), 0), "viridis")
    for ticks, top in [
        (direct, n - 1),
        (panel.x_axis.tick_values, n - 1),
        (pic.x_axis.tick_values, n),
        (pic.y_axis.tick_values, n),
    ]:
        ticks = np.asarray(ticks)
        assert len(ticks) >= 1 and ticks.min() >= 0 and ticks.max() <= top, (ticks, top)
        assert np.all(ticks == np.round(ticks)) and len(set(ticks.tolist())) == len(ticks)
        if top >= 2:
            assert len(ticks) >= 2
    labels = [f"{int(t)}" for t in panel.x_axis.tick_values]
    assert len(labels) * (max(map(len, labels)) * P.TICK_CHAR_PX + P.TICK_GAP_PX) <= 340
    assert panel.x_axis.tick_format == pic.x_axis.tick_format == pic.y_axis.tick_format == "d"


def test_three_channels_are_not_labelled_in_fifths():
    assert D.integer_ticks(0, 2).tolist() == [0, 1, 2]
    assert D.integer_ticks(0.5, 0.9).tolist() == []  # no integer in range: no tick
    assert D.nice_ticks(0, 2).tolist() == [0.0, 0.5, 1.0, 1.5, 2.0]  # (the float ticks)


# -- 5. titles fit their figure ----------------------------------------------
LONG = "block_16_expand_relu_of_a_layer_with_a_really_long_name_indeed"


@pytest.mark.parametrize("name", ["conv2", "block_16_expand_relu", LONG, "x" * 200])
def test_fit_title_fits_and_keeps_what_it_can(name):
    full, short = "output (3, 3, 960) for input 0, channel 12", "output (3, 3, 960), channel 12"
    title = P.fit_title(name, full, short, limit=48)
    assert len(title) <= 48
    if len(f"{name}: {full}") <= 48:
        assert title == f"{name}: {full}"
    else:
        assert title.endswith(short) and title[:4] == name[:4]
    assert P.ellipsize(LONG, 20) == "block_16_e\u2026me_indeed" and len(P.ellipsize(LONG, 20)) == 20


def test_title_budget_matches_the_figure():
    room = 420 - P.MARGIN["left"] - P.MARGIN["right"] + 2 * P.MARGIN["right"]
    assert P.title_chars("420px") * P.TITLE_CHAR_PX <= room
    assert P.PicturePanel("t").figure.title_style == {"font-size": f"{P.TITLE_PX}px"}


def test_explorer_cuts_a_long_layer_name_and_keeps_it_in_the_caption():
    i = keras.Input((6, 6, 3))
    model = keras.Model(i, L.Conv2D(24, 3, name=LONG)(i))
    state = nw.ModelState(model, np.ones((2, 6, 6, 3), "float32"))
    state.layer = LONG
    view = nw.ActivationExplorer(state)
    view.channel = 12
    title = view.panel.figure.title
    assert len(title) <= view.panel.title_chars and title.endswith("output (4, 4, 24), channel 12")
    assert f"{LONG}: output (4, 4, 24) for input 0, channel 12" in view.panel.bar.value
    view.close()


# -- 6. no activations: a message, no empty charts ---------------------------
class Subclassed(keras.Model):
    """(No leading "_" in the name: a class ``_Subclassed`` gets the name "__subclassed",
    which TensorFlow rejects as a root name scope inside the compiled recording after
    Keras has pushed it, so every later Keras variable of the process is prefixed.)"""

    def __init__(self):
        super().__init__()
        self.conv = L.Conv2D(3, 3, name="conv")
        self.pool = L.GlobalAveragePooling2D(name="pool")
        self.head = L.Dense(2, name="head")

    def call(self, x):
        return self.head(self.pool(self.conv(x)))


def test_a_subclassed_model_shows_a_message_and_no_figures():
    model = Subclassed()
    model(np.zeros((1, 6, 6, 1), "float32"))
    state = nw.ModelState(model, np.ones((2, 6, 6, 1), "float32"))
    view = nw.ActivationExplorer(state)
    for name in state.layer_names:
        state.layer = name
        assert "subclassed model" in view.error and "subclassed model" in view.message.value
        figures = [view.panel.figure, view.panel.bar, view.vector.figure, view.channels.figure]
        assert not any(_shown(w) for w in (*figures, view.stats, view.controls)), name
        assert view.shape == ()
    view.close()


def test_figures_come_back_after_an_error(constant_state, monkeypatch):
    view = nw.ActivationExplorer(constant_state)
    monkeypatch.setattr(constant_state, "activation", lambda **_: 1 / 0)
    constant_state.input_index = 1
    assert not _shown(view.panel.figure) and not _shown(view.channels.figure)
    monkeypatch.undo()
    constant_state.input_index = 0
    assert view.error == "" and _shown(view.panel.figure) and _shown(view.channels.figure)
    assert _shown(view.controls) and view.shape == (4, 4, 4)
    view.close()


# -- 7, 8. controls only where they apply; sequences -------------------------
def test_sequences_get_feature_and_step_axes_and_no_channel_controls():
    model = keras.Sequential(
        [keras.Input((100, 3)), L.Conv1D(64, 3, padding="same", name="conv1d"), L.Flatten()]
    )
    state = nw.ModelState(model, np.random.default_rng(0).random((2, 100, 3)).astype("float32"))
    view = nw.ActivationExplorer(state)
    state.layer = "conv1d"
    assert view.shape == (100, 64)
    assert (view.panel.x_axis.label, view.panel.y_axis.label) == ("feature", "step")
    for ticks, top in ((view.panel.x_axis.tick_values, 64), (view.panel.y_axis.tick_values, 100)):
        ticks = np.asarray(ticks)
        assert len(ticks) >= 2 and ticks.min() >= 0 and ticks.max() <= top
        assert np.all(ticks == np.round(ticks)) and len(set(ticks.tolist())) == len(ticks)
    assert not _shown(view.controls) and not _shown(view.scale_box)
    assert view.channels.figure.title == "Mean per feature"
    assert view.channels.x_axis.label == "feature"
    view.close()


def test_scale_box_only_while_a_grid_of_maps_is_shown(constant_state):
    view = nw.ActivationExplorer(constant_state)
    assert _shown(view.controls) and _shown(view.scale_box)
    view.channel = 1
    assert _shown(view.controls) and not _shown(view.scale_box)
    view.channel = None
    assert _shown(view.scale_box)
    view.close()
