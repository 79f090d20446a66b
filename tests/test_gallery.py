"""The gallery: pages of inputs drawn in bulk (one sprite PNG, or one list), clicks that
select an input, paging, and every input kind, on small real Keras models."""

from __future__ import annotations

import io

import numpy as np
import pytest
from traitlets import TraitError

keras = pytest.importorskip("keras")
Image = pytest.importorskip("PIL.Image")

import nnwidgets as nw  # noqa: E402
from nnwidgets import datasets  # noqa: E402
from nnwidgets.compute.sprites import FRAME_COLOR  # noqa: E402
from nnwidgets.views import gallery as G  # noqa: E402

L = keras.layers
RNG = np.random.default_rng(0)
WORDS = ["", "[UNK]"] + [f"w{i}" for i in range(2, 40)]


@pytest.fixture(scope="module")
def digits():
    x, y = datasets.load_digits(100)
    return nw.ModelState(datasets.demo_model(), x, y)


@pytest.fixture(scope="module")
def series():
    model = keras.Sequential(
        [
            keras.Input((50, 2)),
            L.Conv1D(4, 3),
            L.GlobalAveragePooling1D(),
            L.Dense(3, activation="softmax"),
        ]
    )
    t = np.linspace(0, 6, 50)
    x = np.stack([np.c_[np.sin(t * (1 + i % 3)), np.cos(t) * i / 30] for i in range(30)])
    x = x.astype("float32")
    x[4, 10, 0] = np.nan
    return nw.ModelState(model, x, np.arange(30) % 3)


@pytest.fixture(scope="module")
def texts():
    model = keras.Sequential(
        [
            keras.Input((12,), dtype="int32"),
            L.Embedding(40, 8),
            L.GlobalAveragePooling1D(),
            L.Dense(2, activation="softmax"),
        ]
    )
    x = RNG.integers(2, 40, size=(60, 12)).astype("int32")
    x[:, :4] = 0  # pre-padding
    return nw.ModelState(model, x, np.arange(60) % 2, vocabulary=WORDS)


@pytest.fixture(scope="module")
def table():
    model = keras.Sequential([keras.Input((6,)), L.Dense(4, activation="relu"), L.Dense(2)])
    return nw.ModelState(model, RNG.normal(size=(50, 6)).astype("float32"))


def png_of(view) -> np.ndarray:
    """The sprite the Image mark shows, decoded."""
    return np.asarray(Image.open(io.BytesIO(view.mark.image.value)).convert("RGB"))


def sprite_size(tiles: int, columns: int, tile: tuple[int, int], below: int) -> tuple[int, int]:
    """(height, width) of a sprite of ``tiles`` tiles, ``columns`` to a row."""
    rows = -(-tiles // columns)
    cols = min(columns, tiles)
    return G.PAD + rows * (tile[0] + below + G.PAD), G.PAD + cols * (tile[1] + G.PAD)


def click_at(view, position: int) -> None:
    """Click the centre of a tile as the browser reports it (bqplot's Image mark sends
    the click's x and y in the scales' units, here sprite pixels)."""
    top, left = view._tiling.positions[position]
    th, tw = view._tiling.tile
    data = {"click_x": float(left + tw / 2), "click_y": float(top + th / 2)}
    view.mark._handle_custom_msgs(None, {"event": "element_click", "data": data})


def test_a_page_of_digits_is_one_small_sprite(digits):
    view = G.Gallery(digits, indices=range(100), title="Digits")
    assert view.error == "" and view.shown == "pictures"
    rgb = png_of(view)
    # 40 tiles, 10 to a row, 8x8 digits repeated to 48 px, labels under the tiles
    assert rgb.shape[:2] == sprite_size(40, 10, (48, 48), G.CAPTION_PX)
    size = view.figure.layout
    assert (size.width, size.height) == (f"{rgb.shape[1] + 4}px", f"{rgb.shape[0] + 4}px")
    labels = list(view.labels.text)
    assert len(labels) == len(view.page_indices) == 40
    assert labels == [str(int(v)) for v in digits.labels[:40]]
    assert len(view.labels.x) == len(view.labels.y) == 40
    print(f"\n40-digit page: {view.png_bytes} bytes, {rgb.shape[1]}x{rgb.shape[0]} px")
    assert view.png_bytes == len(view.mark.image.value) < 60_000
    assert "Digits" in view.header.value
    view.close()


def test_a_click_on_a_tile_or_caption_selects_that_input(digits):
    view = G.Gallery(digits, indices=range(50, 100), columns=8)
    digits.input_index = 0
    before = view.mark.image
    click_at(view, 13)
    assert digits.input_index == 63
    assert view.mark.image is not before  # a new Image widget: bqplot redraws
    top, left = view._tiling.positions[13]
    assert tuple(png_of(view)[top - 1, left + 5]) == FRAME_COLOR  # framed
    # a click on the caption under tile 2 reaches the sprite (the captions let clicks
    # through: bqplot's Label mark reports none), in the band under the tile
    top2, left2 = view._tiling.positions[2]
    data = {"click_x": float(left2 + 40), "click_y": float(top2 + 48 + G.CAPTION_PX / 2)}
    view.mark._handle_custom_msgs(None, {"event": "element_click", "data": data})
    assert digits.input_index == 52
    assert "text.label{pointer-events:none}" in view.header.value
    assert not view.figure.display_toolbar  # no pan or zoom: clicks stay in sprite pixels
    assert tuple(png_of(view)[top - 1, left + 5]) != FRAME_COLOR  # the frame moved
    view.click(5)
    assert digits.input_index == 55
    view.mark._handle_custom_msgs(None, {"event": "element_click", "data": {"click_x": -50}})
    assert digits.input_index == 55 and view.error == ""  # outside the tiles: nothing
    with pytest.raises(IndexError, match="position on the page"):
        view.click(40)
    view.close()


def test_selection_made_elsewhere_is_framed_only_on_its_page(digits):
    view = G.Gallery(digits, indices=range(100), page_size=20)
    digits.input_index = 3
    top, left = view._tiling.positions[3]
    assert tuple(png_of(view)[top - 1, left + 5]) == FRAME_COLOR
    digits.input_index = 45  # on page 2: page 0 shows no frame
    assert tuple(png_of(view)[top - 1, left + 5]) != FRAME_COLOR
    view.page = 2
    top, left = view._tiling.positions[5]
    assert tuple(png_of(view)[top - 1, left + 5]) == FRAME_COLOR
    view.close()


def test_pages_turn_clamp_and_reset_with_new_indices(digits):
    view = G.Gallery(digits, indices=range(100), page_size=40, columns=10)
    assert view.pager.layout.display is None and view.pages == 3
    assert view.range_label.value == "1\u201340 of 100" and view.prev.disabled
    view.next.click()
    assert view.page == 1 and view.page_indices == tuple(range(40, 80))
    assert view.range_label.value == "41\u201380 of 100"
    view.page = 2
    assert view.page_indices == tuple(range(80, 100))
    assert view.range_label.value == "81\u2013100 of 100" and view.next.disabled
    assert png_of(view).shape[:2] == sprite_size(20, 10, (48, 48), G.CAPTION_PX)
    view.page = 99
    assert view.page == 2
    view.page = -3
    assert view.page == 0
    view.page = 2
    view.indices = list(range(99, 9, -1))  # new indices: back to the first page
    assert view.page == 0 and view.page_indices[:2] == (99, 98)
    view.page_size = 100  # one page: no paging controls
    assert view.pages == 1 and view.pager.layout.display == "none"
    assert view.range_label.value == "1\u201390 of 90"
    view.close()


def test_captions_go_under_the_tiles_and_must_match_the_indices(digits):
    view = G.Gallery(digits, indices=[7, 8, 9], captions=["true 7 \u2192 1", "0.93", "x"])
    assert list(view.labels.text) == ["true 7 \u2192 1", "0.93", "x"]
    cell = int(len("true 7 \u2192 1") * G.CAPTION_CHAR_PX + 6)  # wider than a tile
    assert png_of(view).shape[1] == G.PAD + 3 * (cell + G.PAD)
    with pytest.raises(TraitError, match="one caption per index"):
        view.captions = ["a"]
    view.show([1, 2], ["one", "two"])  # both at once
    assert view.indices == (1, 2) and list(view.labels.text) == ["one", "two"]
    view.indices = [3, 4, 5]  # captions of another length are dropped: labels shown
    assert view.captions == () and list(view.labels.text) == ["3", "4", "5"]
    with pytest.raises(TraitError, match=r"range 0\.\.99"):
        view.indices = [100]
    with pytest.raises(TraitError, match="ints"):
        view.indices = ["a"]
    view.indices = np.array([10, 11])  # numpy arrays are taken
    assert view.indices == (10, 11)
    view.close()


def test_no_indices_show_a_message(digits):
    view = G.Gallery(digits)
    assert view.shown == "" and "no inputs selected" in view.message.value
    assert view.figure.layout.display == "none" and view.list.layout.display == "none"
    assert view.pager.layout.display == "none" and view.error == ""
    view.indices = [1]
    assert view.shown == "pictures" and view.message.value == ""
    view.close()


def test_a_nan_sample_is_drawn_and_flagged(digits):
    x = digits.inputs.copy()
    x[3, 2, 2, 0] = np.nan
    state = nw.ModelState(digits.model, x, digits.labels)
    view = G.Gallery(state, indices=range(10))
    assert view.error == "" and view.shown == "pictures"
    assert view.flagged == (3,)
    assert view.labels.text[3].startswith("\u26a0") and "#3" in view.message.value
    top, left = view._tiling.positions[3]
    k = 48 // 8  # the NaN pixel, repeated to k x k, in magenta
    assert tuple(png_of(view)[top + 2 * k + 1, left + 2 * k + 1]) == (255, 0, 255)
    view.close()


def test_new_data_redraws_and_new_weights_do_not(digits):
    x, y = datasets.load_digits(100)
    state = nw.ModelState(digits.model, x, y)
    view = G.Gallery(state, indices=range(10))
    before = view.mark.image.value
    state.refresh()  # the weights may have changed: the pictures have not
    assert view.mark.image.value is before
    state.set_data(x[::-1].copy(), y[::-1].copy())
    assert view.mark.image.value != before
    view.close()


def test_sequences_are_sparklines_in_one_sprite(series):
    assert series.input_kinds[0] == "sequence"
    view = G.Gallery(series, indices=range(30), columns=6)
    assert view.shown == "sparklines" and view.error == ""
    rgb = png_of(view)
    assert rgb.shape[:2] == sprite_size(30, 6, G.SPARK, G.CAPTION_PX)
    h, w = G.SPARK
    for top, left in view._tiling.positions:
        tile = rgb[top : top + h, left : left + w]
        assert (tile != 255).any(axis=2).any(axis=0).sum() > w * 0.8  # a line across
    assert view.flagged == (4,)  # drawn, with a gap, and flagged
    click_at(view, 7)
    assert series.input_index == 7
    print(f"\n30-series page: {view.png_bytes} bytes")
    view.close()


def test_token_ids_are_rows_of_one_list(texts):
    assert texts.input_kinds[0] == "tokens"
    view = G.Gallery(texts, indices=range(10, 60), page_size=20)
    assert view.shown == "list" and view.figure.layout.display == "none"
    options = view.list.options
    assert len(options) == 20
    label, position = options[2]
    words = " ".join(WORDS[i] for i in texts.inputs[12][4:])
    assert label == f"#12 \u00b7 {int(texts.labels[12])} \u00b7 {words}" and position == 2
    view.list.value = 2  # a person picks the row
    assert texts.input_index == 12
    texts.input_index = 15  # picked elsewhere: its row is selected
    assert view.list.value == 5
    texts.input_index = 0  # not in the gallery
    assert view.list.value is None
    view.page = 1
    assert view.list.options[0][0].startswith("#30 ")
    view.close()


def test_tables_are_rows_with_a_few_feature_values(table):
    assert table.input_kinds[0] == "tabular"
    view = G.Gallery(table, indices=range(50), captions=[f"{i / 50:.2f}" for i in range(50)])
    assert view.shown == "list" and len(view.list.options) == 40
    label = view.list.options[1][0]
    assert label.startswith("#1 \u00b7 0.02 \u00b7 x0=") and label.endswith("\u2026")
    assert label.count("=") == G.ROW_VALUES
    view.list.value = 39
    assert table.input_index == 39
    view.close()


def test_closing_closes_both_sprite_images(digits):
    view = G.Gallery(digits, indices=range(5))
    images = list(view._images)
    view.close()
    assert all(image.comm is None for image in images)


def test_the_view_contract_options_errors_and_closing(digits):
    def observers() -> int:
        return sum(len(h) for by in digits._trait_notifiers.values() for h in by.values())

    before = observers()
    with pytest.raises(TraitError, match="page_size"):
        G.Gallery(digits, indices=[1], page_size=0)
    view = G.Gallery(digits, indices=range(30), columns=5)
    assert all(t.help for t in G.Gallery.class_traits(option=True).values())
    with pytest.raises(TraitError, match="columns"):
        view.columns = 0
    assert view.columns == 5
    assert observers() > before
    view.close()
    assert observers() == before


def test_a_drawing_error_is_shown_not_raised(digits):
    x, y = datasets.load_digits(100)
    state = nw.ModelState(digits.model, x, y)
    view = G.Gallery(state, indices=range(50, 100))
    state.set_data(x[:20], y[:20])  # fewer inputs than the gallery shows
    assert "there are 20 inputs now" in view.error and view.error in view.message.value
    view.indices = range(5)
    assert view.error == "" and view.shown == "pictures"
    view.close()
