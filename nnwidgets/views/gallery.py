"""A gallery: a set of inputs drawn in bulk, a page at a time; a click selects one.

Pictures and series are tiled into one sprite PNG per page (a bqplot ``Image`` mark,
captions in one ``Label`` mark); token ids, tables and other inputs are rows of one
``Select`` list. Never one widget per sample.
"""

from __future__ import annotations

import html
from contextlib import contextmanager

import bqplot as bq
import ipywidgets as W
import numpy as np
from traitlets import Int, TraitError, Tuple, Unicode, validate

from ..compute import sprites
from ..compute.data import check_indices
from ..compute.imaging import encode_png
from .base import ModelView
from .panels import close_tree, ellipsize, status_html
from .samples import LINE_COLORS, sample_picture

#: Thumbnails' long side in px (small pictures repeated to it, big ones shrunk).
TILE = 48
#: A sparkline tile, (height, width) in px, and the features drawn in it at most.
SPARK = (32, 64)
SPARK_LINES = 3
#: Gap between tiles in px (the selected tile's frame is drawn in it).
PAD = 4
#: Caption band under a tile in px, characters kept of a caption, px per character.
CAPTION_PX, CAPTION_CHARS, CAPTION_CHAR_PX = 14, 18, 6.5
#: Characters of a list row's text.
ROW_CHARS = 72
#: Feature values shown in a row of a table.
ROW_VALUES = 4
#: The figure's margin around the sprite in px.
MARGIN = 2
BACKGROUND = {"pictures": (255, 255, 255), "sparklines": (228, 228, 228)}
#: Clicks on a caption go through to the sprite under it: bqplot's Label mark (0.13)
#: reports no click of its own.
CAPTION_CSS = "<style>.nnw-gallery text.label{pointer-events:none}</style>"
SPARK_COLORS = [tuple(int(c[i : i + 2], 16) for i in (1, 3, 5)) for c in LINE_COLORS]


class _Sequence(Tuple):
    """A tuple trait that also takes a list, a range or a numpy array."""

    _cast_types = (list, range, np.ndarray)


class Gallery(ModelView):
    """A set of inputs drawn in bulk, a page at a time; a click selects one.

    Pictures are tiled into one sprite per page, sequences drawn as sparklines into
    one sprite; token ids, tables and other inputs are the rows of one list. Captions
    go under the tiles (or in the rows); without captions, the labels do. The
    selected input (``state.input_index``) is framed when it is on the page; a click
    on a tile or a row sets it. Inputs with NaN or Inf values are flagged (``⚠``).

    Parameters
    ----------
    state : ModelState
    indices : sequence of int
        The inputs shown, in order.
    captions : sequence of str
        One caption per index ("true 3 → 5", "0.93"), or none.
    page_size : int
        Inputs per page (1 to 200; default 40).
    title : str
        A line above the gallery.
    columns : int
        Tiles per row of a sprite (1 to 20; default 10).

    Attributes
    ----------
    indices, captions : tuple
        As above; new ``indices`` go back to the first page (and drop captions of
        another length). Set both at once with :meth:`show`.
    page : int
        The page shown, from 0 (clamped to the pages there are).
    page_indices : tuple of int
        The inputs on the page shown (read-only).
    shown : str
        How the page is drawn: ``"pictures"``, ``"sparklines"``, ``"list"``, or ''
        when there is nothing to show (read-only).
    flagged : tuple of int
        The inputs on the page with NaN or Inf values (read-only).
    png_bytes : int
        Size of the page's sprite PNG (0 for a list).

    Examples
    --------
    >>> from nnwidgets import ModelState, datasets
    >>> x, y = datasets.load_digits(30)
    >>> state = ModelState(datasets.demo_model(), x, y)
    >>> view = Gallery(state, indices=range(25), page_size=20, columns=5)
    >>> view.shown, len(view.page_indices), view.range_label.value
    ('pictures', 20, '1–20 of 25')
    >>> view.click(3); state.input_index
    3
    >>> view.close()
    """

    follows = ("input_index", "version")

    indices = _Sequence(help="The inputs shown, in order.")
    captions = _Sequence(help="A caption per index, or none.")
    page = Int(0, help="The page shown, from 0 (clamped).")
    title = Unicode("", help="A line above the gallery.")
    page_size = Int(40, min=1, max=200, help="Inputs per page.").tag(option=True)
    columns = Int(10, min=1, max=20, help="Tiles per row of a sprite.").tag(option=True)
    shown = Unicode("", read_only=True, help="How the page is drawn.")
    flagged = Tuple(read_only=True, help="Inputs on the page with NaN or Inf values.")

    def __init__(self, state, indices=(), captions=(), page_size=40, title="", **options):
        self.png_bytes = 0
        self._tiling = None
        self._base = None  # the page's sprite without a frame
        self._framed = -2  # the position framed in the sprite shown (-1: none)
        self._drawn_inputs = None
        self._quiet = False
        super().__init__(
            state,
            indices=indices,
            captions=captions,
            page_size=page_size,
            title=title,
            **options,
        )

    # -- traits ------------------------------------------------------------
    @validate("indices")
    def _validate_indices(self, proposal):
        try:
            return check_indices(proposal["value"], self.state.n_inputs, "Gallery.indices")
        except ValueError as err:
            raise TraitError(str(err)) from None

    @validate("captions")
    def _validate_captions(self, proposal):
        captions = tuple(str(c) for c in proposal["value"])
        if captions and len(captions) != len(self.indices):
            raise TraitError(
                f"Gallery.captions must be empty or hold one caption per index "
                f"({len(self.indices)}); got {len(captions)}"
            )
        return captions

    @validate("page")
    def _validate_page(self, proposal):
        return int(min(max(proposal["value"], 0), self.pages - 1))

    @property
    def pages(self) -> int:
        """How many pages there are (1 when there is nothing to show)."""
        return max(1, -(-len(self.indices) // self.page_size))

    @property
    def page_indices(self) -> tuple[int, ...]:
        """The inputs on the page shown."""
        start = self.page * self.page_size
        return self.indices[start : start + self.page_size]

    def show(self, indices, captions=()) -> None:
        """Show other inputs (and their captions) from the first page, in one redraw."""
        with self.hold_trait_notifications():
            self.indices = indices
            self.captions = captions

    # -- what a click does -------------------------------------------------
    def click(self, position: int) -> None:
        """Select the input at ``position`` on the page shown (what a click does)."""
        shown = self.page_indices
        if not 0 <= position < len(shown):
            raise IndexError(
                f"Gallery.click takes a position on the page, 0..{len(shown) - 1}; got {position}"
            )
        self.choose(shown[position])

    def choose(self, index: int) -> None:
        """Select input ``index`` (sets ``state.input_index``)."""
        self.state.input_index = int(index)

    def _on_sprite_click(self, _mark, content) -> None:
        data = content.get("data") or {}
        try:
            x, y = float(data.get("click_x")), float(data.get("click_y"))
        except (TypeError, ValueError):
            return
        if self._tiling is not None:
            self._click_quietly(self._tiling.at(x, y))

    def _on_list(self, change) -> None:
        if self.from_user and change["new"] is not None:
            self._click_quietly(change["new"])

    def _click_quietly(self, position: int) -> None:
        """Select the input at a position from a click: errors are shown, never raised."""
        if not 0 <= position < len(self.page_indices):
            return
        try:
            self.click(position)
        except Exception as err:  # noqa: BLE001 - shown, never raised into the kernel
            self.show_error(str(err))

    # -- building ----------------------------------------------------------
    def build(self) -> tuple:
        self.header = W.HTML()
        self.prev = W.Button(icon="chevron-left", tooltip="previous page")
        self.next = W.Button(icon="chevron-right", tooltip="next page")
        for button in (self.prev, self.next):
            button.layout = W.Layout(width="34px")
        self.prev.on_click(lambda _: self._turn(-1))
        self.next.on_click(lambda _: self._turn(1))
        self.range_label = W.Label()
        self.pager = W.HBox([self.prev, self.next, self.range_label])
        self._build_figure()
        self.list = W.Select(options=[], rows=10, layout=W.Layout(width="98%"))
        self.list.observe(self._on_list, names="value")
        self.add_class("nnw-gallery")
        self.observe(self._on_indices, names="indices")
        self.observe(self._on_content, names=["captions", "page", "title"])
        return (self.header, self.message, self.pager, self.figure, self.list)

    def _build_figure(self) -> None:
        # x and y in sprite pixels (y down): a click on the Image mark reports them
        self.x_scale = bq.LinearScale(min=0.0, max=1.0, allow_padding=False)
        self.y_scale = bq.LinearScale(min=0.0, max=1.0, allow_padding=False, reverse=True)
        scales = {"x": self.x_scale, "y": self.y_scale}
        # bqplot's Image mark redraws only when given another Image widget: two take turns
        blank = encode_png(np.full((1, 1, 3), 255, np.uint8))
        self._images = [W.Image(value=blank, format="png") for _ in range(2)]
        self.mark = bq.Image(image=self._images[0], scales=scales, x=(0, 1), y=(1, 0))
        self.labels = bq.Label(
            x=[0.0],
            y=[0.0],
            text=[""],
            scales=scales,
            default_size=11,
            font_weight="normal",
            align="middle",
            colors=["#222222"],
            visible=False,
        )
        self.figure = bq.Figure(
            marks=[self.mark, self.labels],
            axes=[],
            fig_margin={side: MARGIN for side in ("top", "bottom", "left", "right")},
            padding_x=0.0,
            padding_y=0.0,
            display_toolbar=False,  # no pan or zoom: a click's x, y are sprite pixels
            layout=W.Layout(width="100px", height="100px"),
        )
        self.mark.on_element_click(self._on_sprite_click)

    def _turn(self, step: int) -> None:
        self.page = self.page + step

    def _on_indices(self, change) -> None:
        with self._quietly():
            if len(self.captions) not in (0, len(change["new"])):
                self.captions = ()
            self.page = 0
        self.draw()

    def _on_content(self, change) -> None:
        if not self._quiet:
            self.draw()

    def on_state(self, change) -> None:
        if change["name"] == "version":
            if self.state.inputs is not self._drawn_inputs:
                self.draw()  # new data (a version bump for new weights draws nothing)
            return
        self._mark_selected()

    # -- drawing -----------------------------------------------------------
    def render(self) -> None:
        self._drawn_inputs = self.state.inputs
        title = html.escape(self.title)
        self.header.value = CAPTION_CSS + (
            f'<div style="font-weight:bold;font-size:13px">{title}</div>' if title else ""
        )
        if self.page > self.pages - 1:  # fewer pages since (a larger page_size)
            with self._quietly():
                self.page = self.pages - 1
        shown = self.page_indices
        self._base = self._tiling = None
        self._framed = -2
        if not shown:
            self._show_nothing()
            return
        self._pager(len(shown))
        inputs = _first_input(self.state.inputs)
        if max(shown) >= len(inputs):
            raise ValueError(
                f"the gallery shows input {max(shown)} but there are {len(inputs)} inputs "
                "now; give it new indices"
            )
        samples = inputs[list(shown)]
        bad = _non_finite(samples)
        self.set_trait("flagged", tuple(i for i, b in zip(shown, bad, strict=True) if b))
        captions = [
            ("\u26a0 " if b else "") + c for c, b in zip(self._captions(shown), bad, strict=True)
        ]
        kinds = self.state.input_kinds
        kind = kinds[0] if kinds else "other"
        tiles = self._tiles(samples, kind)
        if tiles is not None:
            self._show_sprite(tiles, captions)
        else:
            self._show_list(samples, kind, captions, shown)
        note = ""
        if self.flagged:
            listed = ", ".join(f"#{i}" for i in self.flagged[:8])
            more = " \u2026" if len(self.flagged) > 8 else ""
            note = f"\u26a0 NaN/Inf values in {listed}{more}"
        self.message.value = status_html(note, error=True) if note else ""

    @contextmanager
    def _quietly(self):
        """Within the block, changes of the page, captions or title do not redraw."""
        self._quiet = True
        try:
            yield
        finally:
            self._quiet = False

    def _show_nothing(self) -> None:
        self.set_trait("flagged", ())
        self.set_trait("shown", "")
        self.png_bytes = 0
        self.pager.layout.display = "none"
        self.figure.layout.display = "none"
        self.list.layout.display = "none"
        self.message.value = status_html("no inputs selected")

    def _pager(self, count: int) -> None:
        start = self.page * self.page_size
        self.pager.layout.display = None if self.pages > 1 else "none"
        self.range_label.value = f"{start + 1}\u2013{start + count} of {len(self.indices)}"
        self.prev.disabled = self.page == 0
        self.next.disabled = self.page >= self.pages - 1

    def _captions(self, shown) -> list[str]:
        start = self.page * self.page_size
        if self.captions:
            texts = self.captions[start : start + len(shown)]
        else:
            texts = [label_text(self.state, i) for i in shown]
        return [ellipsize(t, CAPTION_CHARS) for t in texts]

    def _tiles(self, samples: np.ndarray, kind: str) -> tuple[str, np.ndarray] | None:
        """The page's tiles as ``(what, (k, h, w, 3) uint8)``, or None for a list."""
        if kind == "image":
            pictures = [sample_picture(s) for s in samples]
            if all(p is not None for p in pictures):
                return "pictures", np.stack([sprites.thumbnail(p, TILE) for p in pictures])
        if kind == "sequence" and samples.ndim in (2, 3):
            h, w = SPARK
            colors = SPARK_COLORS[:SPARK_LINES]
            return "sparklines", np.stack([sprites.sparkline_rgb(s, h, w, colors) for s in samples])
        return None

    def _show_sprite(self, tiles, captions: list[str]) -> None:
        what, pictures = tiles
        below = CAPTION_PX if any(captions) else 0
        longest = max(len(c) for c in captions)
        cell = int(min(longest * CAPTION_CHAR_PX + 6, CAPTION_CHARS * CAPTION_CHAR_PX + 6))
        rgb, tiling = sprites.tile_sprite(
            pictures, self.columns, PAD, below=below, cell_width=cell, background=BACKGROUND[what]
        )
        self._base, self._tiling = rgb, tiling
        h, w = rgb.shape[:2]
        th, tw = tiling.tile
        self.figure.layout.width = f"{w + 2 * MARGIN}px"  # one sprite pixel, one screen px
        self.figure.layout.height = f"{h + 2 * MARGIN}px"
        with self.x_scale.hold_sync():
            self.x_scale.min, self.x_scale.max = 0.0, float(w)
        with self.y_scale.hold_sync():
            self.y_scale.min, self.y_scale.max = 0.0, float(h)
        self._mark_selected()
        tops, lefts = tiling.positions[:, 0], tiling.positions[:, 1]
        with self.labels.hold_sync():
            self.labels.x = (lefts + tw / 2).astype(np.float64)
            self.labels.y = (tops + th + below / 2 + 1).astype(np.float64)
            self.labels.text = np.array(captions if below else [""] * len(captions))
            self.labels.visible = bool(below)
        self.figure.layout.display = None
        self.list.layout.display = "none"
        self.set_trait("shown", what)

    def _show_list(self, samples: np.ndarray, kind: str, captions: list[str], shown) -> None:
        vocabulary = self.state.vocabulary if kind == "tokens" else None
        names = self.state.feature_names(0) if kind == "tabular" else None
        options = []
        for pos, (i, sample, caption) in enumerate(zip(shown, samples, captions, strict=True)):
            text = row_text(sample, kind, vocabulary, names)
            options.append((" \u00b7 ".join(p for p in (f"#{i}", caption, text) if p), pos))
        with self.syncing():
            self.list.options = options
            self.list.rows = max(2, min(len(options), 12))
            self._mark_selected()
        self.png_bytes = 0
        self.figure.layout.display = "none"
        self.list.layout.display = None
        self.set_trait("shown", "list")

    def _mark_selected(self) -> None:
        """Frame the selected input (or select its row) when it is on the page."""
        shown = self.page_indices
        position = shown.index(self.state.input_index) if self.state.input_index in shown else -1
        if self._base is None:
            with self.syncing():
                self.list.value = position if position >= 0 and self.list.options else None
            return
        if position == self._framed:
            return
        rgb = self._base
        if position >= 0:
            rgb = rgb.copy()
            top_left = self._tiling.positions[position]
            sprites.draw_frame(rgb, top_left, self._tiling.tile, min(PAD, 2))
        png = encode_png(rgb)
        self.png_bytes = len(png)
        spare = self._images[1] if self.mark.image is self._images[0] else self._images[0]
        spare.value = png
        h, w = rgb.shape[:2]
        with self.mark.hold_sync():
            self.mark.image = spare
            self.mark.x, self.mark.y = (0.0, float(w)), (float(h), 0.0)
        self._framed = position

    def close(self) -> None:
        """Stop following the state; close the widgets (both sprite images too)."""
        images = getattr(self, "_images", [])
        super().close()
        for image in images:
            close_tree(image)


def _first_input(inputs) -> np.ndarray:
    """The first model input's samples."""
    if inputs is None:
        raise ValueError("the state has no inputs to show")
    return np.asarray(inputs[0] if isinstance(inputs, (list, tuple)) else inputs)


def _non_finite(samples: np.ndarray) -> np.ndarray:
    """Per sample: whether it has a NaN or an Inf value."""
    if samples.dtype.kind not in "fc":
        return np.zeros(len(samples), dtype=bool)
    return ~np.isfinite(samples.reshape(len(samples), -1)).all(axis=1)


def label_text(state, index: int) -> str:
    """A short text for input ``index``'s label: its class name or number, a value,
    or '' (no labels, or labels such as masks that do not fit in a word)."""
    y = state.label(index)
    if y is None:
        return ""
    y = np.asarray(y)
    if y.ndim == 1 and y.size > 1 and set(np.unique(y).tolist()) <= {0, 1} and y.sum() == 1:
        y = np.asarray(int(np.argmax(y)))  # one-hot
    if y.size != 1:
        return ""
    value = y.reshape(-1)[0]
    if y.dtype.kind in "iub":
        names = state.class_names()
        k = int(value)
        return str(names[k]) if names and 0 <= k < len(names) else str(k)
    return f"{float(value):.3g}"


def row_text(sample, kind: str, vocabulary=None, names=None, limit: int = ROW_CHARS) -> str:
    """One input as a line of text: its words (token ids, padding left out), a few of
    its feature values, or its shape and first values.

    >>> row_text(np.array([0, 0, 2, 3]), "tokens", vocabulary=lambda i: ["", "", "a", "b"][i])
    'a b'
    >>> row_text(np.array([1.5, np.nan, 3, 4, 5]), "tabular", names=["age", "bmi"])
    'age=1.5 bmi=nan x2=3 x3=4 …'
    >>> row_text(np.zeros((3, 4)), "other")
    '(3, 4) 0 0 0 0 …'
    """
    sample = np.asarray(sample)
    flat = sample.reshape(-1)
    if kind == "tokens":
        ids = flat[flat != 0]
        word = vocabulary or (lambda i: str(int(i)))
        text = " ".join(word(i) for i in ids[: limit // 2])
    elif kind == "tabular":
        parts = [
            f"{names[j] if names is not None and j < len(names) else f'x{j}'}={_value(v)}"
            for j, v in enumerate(flat[:ROW_VALUES])
        ]
        text = " ".join(parts) + (" \u2026" if flat.size > ROW_VALUES else "")
    else:
        values = " ".join(_value(v) for v in flat[:ROW_VALUES])
        text = f"{tuple(sample.shape)} {values}" + (" \u2026" if flat.size > ROW_VALUES else "")
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def _value(v) -> str:
    return f"{v:.4g}" if np.asarray(v).dtype.kind == "f" else str(v)
