"""What each attention head looks at: a query x key map per head, or lines between tokens.

The scores come from :func:`nnwidgets.attention.attention_scores` for the selected input
only, cached by (weights, layer, input); picking a head, a token or a window redraws from
that cache. Long sequences show a window of tokens around the selected one, with an
overview of the whole map as one PNG.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import NamedTuple

import bqplot as bq
import ipywidgets as W
import numpy as np
from traitlets import Enum, Int, TraitError, Tuple, Unicode, observe, validate

from ..compute import data as _data
from ..compute.imaging import block_reduce, encode_png
from ..compute.tokens import PAD
from .base import ModelView
from .panels import close_tree, status_html

__all__ = ["AttentionView"]

#: What the view says for a model without attention.
NO_ATTENTION = "this model has no attention layer (MultiHeadAttention)"
#: Side of the overview PNG at most, and of a head's thumbnail.
OVERVIEW, THUMB = 512, 96
#: Score maps kept (one per weights, layer and input).
CACHED = 8
#: Colour of padding and masked cells (a weight of 0 is white).
GREY = (200, 200, 200)
#: Keys named in the caption.
TOP = 3
PAD_LABEL, MASK_MARK = "\u00b7pad", "\u2298"
LINE_COLOR = "#1f5fa8"
#: Tokens in the lines mode: a mid grey that reads on the light and the dark theme.
WORD_COLOR = "#707070"
#: The colour value of cells not attended (masked): below 0, drawn grey.
OFF = -1e-3
#: Width of the large map's plot area (the figure's 480 px less its margins).
GRID_PLOT_PX = 360
#: The colour of the largest weight (0 is white).
DARK = (8, 48, 107)
#: The frame of the window in the overview.
BOX = (208, 2, 27)


class _Scores(NamedTuple):
    scores: np.ndarray  # (heads, T, S)
    query_labels: tuple
    key_labels: tuple
    query_off: np.ndarray  # (T,) padding or masked queries
    key_off: np.ndarray  # (S,) padding or masked keys
    self_attention: bool


class AttentionView(ModelView):
    """What each head of an attention layer attends to, for the selected input.

    ``mode="heads"`` shows one map large (queries as rows, keys as columns; click a cell
    to pick its query token) and a small map of every head and of their average (click
    one to show it large); ``mode="lines"`` shows the queries left and the keys right,
    joined by lines as opaque as the weight, from the selected token (or every token,
    faintly). Padding (token id 0) and masked positions are grey, unlike a weight of 0.
    Sequences longer than ``window`` show ``window`` tokens around the selected token,
    with an overview of the whole map.

    Parameters
    ----------
    state : ModelState
    layer : str
        The attention layer shown (default: the state's layer if it is one, else the
        first). It follows ``state.layer`` whenever that is an attention layer.
    head : int or None
        The head shown large (None, the default: the average over heads).
    token : int or None
        The query position picked (None: none); its row is highlighted.
    mode : {"heads", "lines"}
    window : int
        Tokens shown at most on each axis (default 48).

    Attributes
    ----------
    heads : int
        Heads of the layer (read-only).
    query_labels, key_labels : tuple of str
        Labels of the rows and columns of :attr:`shown` (read-only).
    scores : numpy.ndarray
        ``(heads, T, S)`` scores of the selected input.
    shown : numpy.ndarray
        The map drawn large: rows :attr:`rows`, columns :attr:`cols` of the head's map.

    Examples
    --------
    >>> import keras, numpy as np, nnwidgets as nw
    >>> i = keras.Input((5,), dtype="int32")
    >>> e = keras.layers.Embedding(9, 4, mask_zero=True)(i)
    >>> a = keras.layers.MultiHeadAttention(2, 2, name="mha")(e, e)
    >>> state = nw.ModelState(keras.Model(i, a), np.array([[3, 4, 5, 0, 0]]))
    >>> view = AttentionView(state, head=1)
    >>> view.shown.shape, view.query_labels[-1]
    ((5, 5), '·pad')
    >>> view.close()
    """

    follows = ("layer", "version", "input_index")

    layer = Unicode("", help="The attention layer shown.").tag(option=True)
    head = Int(None, allow_none=True, help="The head shown large (None: mean).").tag(option=True)
    token = Int(None, allow_none=True, help="The query position picked.").tag(option=True)
    mode = Enum(("heads", "lines"), default_value="heads", help="Maps or lines.").tag(option=True)
    window = Int(48, min=4, max=512, help="Tokens shown on each axis at most.").tag(option=True)
    heads = Int(0, read_only=True, help="Heads of the layer.")
    query_labels = Tuple(read_only=True, help="Labels of the rows shown.")
    key_labels = Tuple(read_only=True, help="Labels of the columns shown.")

    def __init__(self, state, **options):
        self._cache: OrderedDict = OrderedDict()
        self._names: tuple | None = None
        self._data: _Scores | None = None
        self._shown = np.zeros((0, 0), np.float32)
        self._rows = self._cols = slice(0, 0)
        self._start = 0
        self._recentre = True
        self._thumbs_of = None
        self._picker_labels = None
        self._overview_of: tuple = (None, None, None)
        super().__init__(state, **options)

    # -- what is shown ------------------------------------------------------------
    @property
    def scores(self) -> np.ndarray:
        """``(heads, T, S)`` scores of the selected input (empty before a draw)."""
        return self._data.scores if self._data else np.zeros((0, 0, 0), np.float32)

    @property
    def shown(self) -> np.ndarray:
        """The ``(rows, cols)`` map drawn large."""
        return self._shown

    @property
    def rows(self) -> slice:
        """The query positions shown."""
        return self._rows

    @property
    def cols(self) -> slice:
        """The key positions shown."""
        return self._cols

    def attention_layers(self) -> tuple:
        """Names of the model's attention layers, in graph order."""
        if self._names is None:
            self._names = tuple(_api().attention_layers(self.state.model))
        return self._names

    # -- widgets -----------------------------------------------------------------
    def build(self) -> tuple:
        self.layer_picker = W.Dropdown(description="layer", layout=W.Layout(width="260px"))
        self.layer_picker.observe(self._on_layer_picker, names="value")
        self.token_picker = W.Dropdown(description="token", layout=W.Layout(width="220px"))
        self.token_picker.observe(self._on_token_picker, names="value")
        self.mode_picker = W.ToggleButtons(options=["heads", "lines"], value=self.mode)
        self.mode_picker.style.button_width = "60px"
        self.mode_picker.observe(self._on_mode_picker, names="value")
        self.scroll = W.IntSlider(description="rows from", min=0, max=0, continuous_update=False)
        self.scroll.observe(self._on_scroll, names="value")
        self.caption = W.HTML()
        self._build_grid()
        self._build_lines()
        self.overview = W.Image(format="png", layout=W.Layout(width="200px", height="200px"))
        self.thumbs = W.GridBox(layout=W.Layout(grid_template_columns="repeat(5, 110px)"))
        self.heads_box = W.VBox([W.HBox([self.figure, self.overview]), self.thumbs])
        self.body = W.VBox([self.caption, self.scroll, self.heads_box, self.lines_figure])
        controls = W.HBox([self.layer_picker, self.token_picker, self.mode_picker])
        self.add_class("nnw-attention")
        return (self.message, controls, self.body)

    def _build_grid(self) -> None:
        self.row_scale, self.col_scale = bq.OrdinalScale(reverse=True), bq.OrdinalScale()
        # grey below 0 for what was not attended (masked: OFF), white at 0, dark blue at the
        # top (bqplot draws NaN cells black whatever null_color says)
        self.color_scale = bq.ColorScale(
            colors=["#c8c8c8", "#ffffff", "#08306b"], min=OFF, mid=0.0, max=1.0
        )
        self.grid = bq.GridHeatMap(
            scales={"row": self.row_scale, "column": self.col_scale, "color": self.color_scale},
            null_color="#c8c8c8",
            stroke="white",
            selected_style={"stroke": "#d0021b", "stroke-width": 2},
        )
        self.grid.on_element_click(self._on_cell)
        tick = {"font-size": "11px"}
        self.col_axis = bq.Axis(scale=self.col_scale, label="keys", tick_style=tick)
        self.row_axis = bq.Axis(
            scale=self.row_scale,
            orientation="vertical",
            label="queries",
            label_offset="90px",  # (left of the longest words)
            tick_style=tick,
        )
        self.figure = bq.Figure(
            marks=[self.grid],
            axes=[self.col_axis, self.row_axis],
            fig_margin={"top": 30, "bottom": 80, "left": 110, "right": 10},
            title_style={"font-size": "13px"},
            layout=W.Layout(width="480px", height="480px"),
        )

    def _build_lines(self) -> None:
        self._line_y = bq.LinearScale(reverse=True, min=-0.5, max=0.5)
        # words sit inside the plot area (bqplot clips marks to it): lines from 0 to 1
        scales = {"x": bq.LinearScale(min=-0.8, max=1.8), "y": self._line_y}
        self.links = bq.Lines(x=[0.0, 1.0], y=[0.0, 0.0], scales=scales, colors=[LINE_COLOR])
        self.links.stroke_width = 2
        words = {"scales": scales, "default_size": 12, "colors": [WORD_COLOR]}
        self.query_text = bq.Label(x=[], y=[], text=[], align="end", x_offset=-8, **words)
        self.key_text = bq.Label(x=[], y=[], text=[], align="start", x_offset=8, **words)
        self.query_dots = bq.Scatter(
            x=[],
            y=[],
            scales=scales,
            default_size=40,
            colors=["#555555"],
            selected_style={"fill": "#d0021b"},
        )
        self.query_dots.on_element_click(self._on_dot)
        self.lines_figure = bq.Figure(
            marks=[self.links, self.query_text, self.key_text, self.query_dots],
            fig_margin={"top": 20, "bottom": 20, "left": 10, "right": 10},
            layout=W.Layout(width="420px", height="600px"),
        )

    # -- following the state ----------------------------------------------------
    def on_state(self, change) -> None:
        if change["name"] != "layer":
            self.draw()
        elif change["new"] in self.attention_layers() and change["new"] != self.layer:
            self.layer = change["new"]  # (redraws)

    # -- drawing -----------------------------------------------------------------
    def render(self) -> None:
        names = self.attention_layers()
        if not names:
            self._blank()
            raise ValueError(NO_ATTENTION)
        self._pick_layer(names)
        if self.state.n_inputs == 0:
            self._blank()
            raise ValueError("the attention view needs inputs: ModelState(model, inputs)")
        data = self._scores()
        self._fit(data)
        full = self._map(data)
        self._place_window(data, full)
        self._shown = full[self._rows, self._cols]
        self.set_trait("query_labels", data.query_labels[self._rows])
        self.set_trait("key_labels", data.key_labels[self._cols])
        self.body.layout.display = ""
        self._draw_controls(data)
        self._caption(data, full)
        self.heads_box.layout.display = "" if self.mode == "heads" else "none"
        self.lines_figure.layout.display = "" if self.mode == "lines" else "none"
        if self.mode == "heads":
            self._draw_grid(data)
            self._draw_overview(data, full)
            self._draw_thumbs(data)
        else:
            self._draw_lines(data)

    def _pick_layer(self, names: tuple) -> None:
        if self.layer not in names:
            wanted = self.state.layer if self.state.layer in names else names[0]
            with self.syncing():
                self.layer = wanted
        with self.syncing(), self.layer_picker.hold_sync():
            if tuple(self.layer_picker.options) != names:
                self.layer_picker.options = names
            self.layer_picker.value = self.layer

    def _scores(self) -> _Scores:
        """The selected input's scores and labels, cached by weights, layer and input."""
        key = (self.weights_key(), self.layer, self.state.input_index)
        if key not in self._cache:
            x = _data.take(self.state.inputs, self.state.input_index)
            scores = np.asarray(self._attention_scores(x, key[0]))
            if scores.ndim != 4 or scores.shape[0] != 1:
                raise ValueError(f"attention scores of shape {scores.shape}; expected (1, h, T, S)")
            self._cache[key] = _describe(self.state, self.layer, x, scores[0].astype(np.float32))
            while len(self._cache) > CACHED:
                self._cache.popitem(last=False)
        self._cache.move_to_end(key)
        self._data = self._cache[key]
        return self._data

    def _attention_scores(self, x, weights_key):
        """The scores with the state's units switched off (where Keras keeps a graph
        of the layer's calls; elsewhere without, and the view says so)."""
        api = _api()
        masks = self.state._masks_at(weights_key) or None
        if masks and not api._in_graph(self.state.model, self.layer):
            self.message.value = status_html(
                f"units switched off are not applied here: {self.layer} is called from a "
                "layer's own code, where Keras keeps no graph"
            )
            masks = None
        return api.attention_scores(self.state.model, x, self.layer, masks=masks)

    def _fit(self, data: _Scores) -> None:
        """Forget a head or token the new scores do not have."""
        heads, t, _ = data.scores.shape
        self.set_trait("heads", heads)
        with self.syncing():
            if self.head is not None and self.head >= heads:
                self.head = None
            if self.token is not None and self.token >= t:
                self.token = None

    def _map(self, data: _Scores) -> np.ndarray:
        s = data.scores
        return s[self.head] if self.head is not None else s.mean(axis=0)

    def _place_window(self, data: _Scores, full: np.ndarray) -> None:
        t, s = full.shape
        n = self.window
        if self._recentre and self.token is not None:
            self._start = self.token - n // 2
        self._recentre = False
        self._start = int(np.clip(self._start, 0, max(t - n, 0)))
        self._rows = slice(self._start, min(self._start + n, t))
        if data.self_attention and t == s:
            self._cols = self._rows
            return
        centre = int(np.argmax(full[self.token])) if self.token is not None else n // 2
        start = int(np.clip(centre - n // 2, 0, max(s - n, 0)))
        self._cols = slice(start, min(start + n, s))

    def _draw_controls(self, data: _Scores) -> None:
        t = len(data.query_labels)
        options = [("none", -1)] + [(f"{i}: {lab}", i) for i, lab in enumerate(data.query_labels)]
        with self.syncing():
            with self.token_picker.hold_sync():
                if self._picker_labels != data.query_labels:
                    self.token_picker.options = options
                    self._picker_labels = data.query_labels
                self.token_picker.value = -1 if self.token is None else self.token
            with self.scroll.hold_sync():
                self.scroll.max = max(t - self.window, 0)
                self.scroll.value = self._start
            self.mode_picker.value = self.mode
        self.scroll.layout.display = "" if t > self.window else "none"

    def _caption(self, data: _Scores, full: np.ndarray) -> None:
        which = "the mean of the heads" if self.head is None else f"head {self.head}"
        calls = len(getattr(self.state.layer_info(self.layer).layer, "_inbound_nodes", ()))
        if calls > 1:
            which += f"; the layer is called {calls} times: its first call"
        what = f"{self.layer}, {which}, input {self.state.input_index}"
        if self.token is None:
            self.caption.value = status_html(f"{what}: click a row to pick a token")
            return
        q = data.query_labels[self.token]
        row = full[self.token]
        if data.query_off[self.token] or not np.any(row):
            text = f"'{q}' (pos {self.token}) is padding or masked: it attends to nothing"
        else:
            top = np.argsort(-row, kind="stable")[:TOP]
            text = f"'{q}' (pos {self.token}) attends to " + ", ".join(
                f"'{data.key_labels[k]}' (pos {k}) {row[k]:.2f}" for k in top
            )
        self.caption.value = status_html(f"{text} ({which})")

    def _draw_grid(self, data: _Scores) -> None:
        rows = np.arange(self._rows.start, self._rows.stop)
        cols = np.arange(self._cols.start, self._cols.stop)
        color = np.nan_to_num(self._shown.astype(np.float64))
        color[data.query_off[self._rows], :] = OFF
        color[:, data.key_off[self._cols]] = OFF
        qlab = {int(i): lab for i, lab in zip(rows, self.query_labels, strict=True)}
        if self.token is not None and self.token in qlab:
            qlab[self.token] = "\u25b6 " + qlab[self.token]
        with self.grid.hold_sync():
            self.grid.color = color  # (first: bqplot checks rows against it)
            self.grid.row, self.grid.column = rows, cols
            picked = self.token is not None and self._rows.start <= self.token < self._rows.stop
            r = (self.token - self._rows.start) if picked else 0
            self.grid.selected = np.array([[r, c] for c in range(len(cols))]) if picked else None
        self.color_scale.max = _top(self._shown, data.scores.shape[-1])
        self.row_axis.tick_labels = qlab
        self.col_axis.tick_labels = {
            int(i): lab for i, lab in zip(cols, self.key_labels, strict=True)
        }
        # upright while the words fit their column (about 7 px a letter), else slanted
        longest = max((len(lab) for lab in self.key_labels), default=1)
        self.col_axis.tick_rotate = 0 if longest * 7 * len(cols) < GRID_PLOT_PX else -60
        self.row_axis.tick_style = {"font-size": "11px" if len(rows) <= 32 else "9px"}
        self.col_axis.tick_style = {"font-size": "11px" if len(cols) <= 32 else "9px"}
        t, s = data.scores.shape[1:]
        self.figure.title = (
            f"queries {_span(self._rows, t)} \u00d7 keys {_span(self._cols, s)}"
            f" \u00b7 darkest = {self.color_scale.max:.2g}"  # (white is 0)
        )

    def _draw_overview(self, data: _Scores, full: np.ndarray) -> None:
        t, s = full.shape
        if max(t, s) <= self.window:
            self.overview.layout.display = "none"
            return
        if self._overview_of[:2] != (data, self.head):  # (a token only moves the box)
            self._overview_of = (data, self.head, _picture(full, data, (OVERVIEW, OVERVIEW)))
        rgb = self._overview_of[2].copy()
        fy, fx = -(-t // rgb.shape[0]), -(-s // rgb.shape[1])
        r0, r1 = self._rows.start // fy, (self._rows.stop - 1) // fy
        c0, c1 = self._cols.start // fx, (self._cols.stop - 1) // fx
        rgb[[r0, r1], c0 : c1 + 1] = BOX
        rgb[r0 : r1 + 1, [c0, c1]] = BOX
        self.overview.value = encode_png(rgb)
        self.overview.layout.display = ""

    def _draw_thumbs(self, data: _Scores) -> None:
        heads = data.scores.shape[0]
        if self._thumbs_of is not data:
            if len(self.thumbs.children) != heads + 1:
                old = self.thumbs.children
                self.thumbs.children = [self._thumb(h) for h in [None, *range(heads)]]
                for box in old:
                    close_tree(box)
            maps = [data.scores.mean(axis=0), *data.scores]
            for box, m in zip(self.thumbs.children, maps, strict=True):
                box.children[0].value = encode_png(_picture(m, data, (THUMB, THUMB)))
            self._thumbs_of = data
        for h, box in zip([None, *range(heads)], self.thumbs.children, strict=True):
            box.children[1].button_style = "info" if h == self.head else ""

    def _thumb(self, head) -> W.VBox:
        image = W.Image(format="png", layout=W.Layout(width=f"{THUMB}px", height=f"{THUMB}px"))
        button = W.Button(
            description="mean" if head is None else f"head {head}",
            layout=W.Layout(width=f"{THUMB}px"),
        )
        button.on_click(lambda _b: setattr(self, "head", head))
        return W.VBox([image, button])

    def _draw_lines(self, data: _Scores) -> None:
        rows = np.arange(self._rows.start, self._rows.stop)
        cols = np.arange(self._cols.start, self._cols.stop)
        n = max(len(rows), len(cols), 1)
        qy, ky = (
            np.arange(len(rows)) * (n / max(len(rows), 1)),
            np.arange(len(cols)) * (n / max(len(cols), 1)),
        )
        w = self._shown
        if self.token is not None and self._rows.start <= self.token < self._rows.stop:
            r = self.token - self._rows.start
            pairs = [(r, c) for c in range(len(cols))]
            top = float(max(w[r].max(initial=0.0), 1e-12))
            opacity = [float(w[r, c]) / top for _, c in pairs]
        else:
            pairs = [(r, c) for r in range(len(rows)) for c in range(len(cols))]
            top = float(max(w.max(initial=0.0), 1e-12))
            opacity = [0.5 * float(w[r, c]) / top for r, c in pairs]
        xs = np.tile([0.0, 1.0], (max(len(pairs), 1), 1))
        ys = np.array([[qy[r], ky[c]] for r, c in pairs]) if pairs else np.zeros((1, 2))
        with self.links.hold_sync():
            self.links.x, self.links.y = xs, ys
            self.links.opacities = opacity or [0.0]
        self._draw_tokens(qy, ky, n)

    def _draw_tokens(self, qy: np.ndarray, ky: np.ndarray, n: int) -> None:
        with self._line_y.hold_sync():
            self._line_y.min, self._line_y.max = -0.5, n - 0.5
        with self.query_text.hold_sync():
            self.query_text.x, self.query_text.y = np.zeros(len(qy)), qy
            self.query_text.text = list(self.query_labels)
        with self.key_text.hold_sync():
            self.key_text.x, self.key_text.y = np.ones(len(ky)), ky
            self.key_text.text = list(self.key_labels)
        picked = self.token is not None and self._rows.start <= self.token < self._rows.stop
        with self.query_dots.hold_sync():
            self.query_dots.x, self.query_dots.y = np.zeros(len(qy)), qy
            self.query_dots.selected = [self.token - self._rows.start] if picked else None
        self.lines_figure.layout.height = f"{max(200, 40 + 20 * n)}px"

    def _blank(self) -> None:
        self._data = None
        self._shown = np.zeros((0, 0), np.float32)
        self.set_trait("heads", 0)
        self.set_trait("query_labels", ())
        self.set_trait("key_labels", ())
        self.body.layout.display = "none"
        self.layer_picker.options = self._names or ()

    # -- what a person does ------------------------------------------------------
    def _on_cell(self, _mark, event) -> None:
        data = (event or {}).get("data") or {}
        row = data.get("rowNum")
        if row is not None and 0 <= row < self._rows.stop - self._rows.start:
            self.token = self._rows.start + int(row)

    def _on_dot(self, _mark, event) -> None:
        index = ((event or {}).get("data") or {}).get("index")
        if index is not None and 0 <= index < self._rows.stop - self._rows.start:
            self.token = self._rows.start + int(index)

    def _on_layer_picker(self, change) -> None:
        if self.from_user and change["new"]:
            self.layer = change["new"]

    def _on_token_picker(self, change) -> None:
        if self.from_user and change["new"] is not None:
            self.token = None if change["new"] < 0 else int(change["new"])

    def _on_mode_picker(self, change) -> None:
        if self.from_user:
            self.mode = change["new"]

    def _on_scroll(self, change) -> None:
        if self.from_user:
            self._start = int(change["new"])
            self.draw()

    @observe("token", "window")
    def _token_changed(self, change) -> None:
        self._recentre = True

    # -- checks ---------------------------------------------------------------------
    @validate("layer")
    def _validate_layer(self, proposal):
        name, names = proposal["value"], self.attention_layers()
        if name not in names:
            raise TraitError(
                f"AttentionView.layer must be an attention layer of the model "
                f"({', '.join(map(repr, names)) or 'none'}); got {name!r}"
            )
        return name

    @validate("head")
    def _validate_head(self, proposal):
        return _check_index(proposal["value"], self.heads, "head", "None (the mean of the heads)")

    @validate("token")
    def _validate_token(self, proposal):
        t = self.scores.shape[1]
        return _check_index(proposal["value"], t, "token", "None (no token)")


def _check_index(value, n: int, what: str, none: str):
    """``value`` if it is None or an int in ``0..n-1`` (``n`` 0: not known yet)."""
    if value is None:
        return None
    ok = isinstance(value, (int, np.integer)) and not isinstance(value, bool)
    if not ok or value < 0 or (n and value >= n):
        choices = f"an int in 0..{n - 1}" if n else "a non-negative int"
        raise TraitError(f"AttentionView.{what} must be {none} or {choices}; got {value!r}")
    return int(value)


def _span(rows: slice, n: int) -> str:
    return f"{rows.start}\u2013{rows.stop - 1} of {n}" if rows.stop - rows.start < n else f"{n}"


def _top(m: np.ndarray, keys: int) -> float:
    """The weight drawn darkest: the largest shown, but at least 4 times the uniform
    weight 1/keys, so that a map where no key stands out reads pale, not dark.

    >>> round(_top(np.full((3, 12), 1 / 12), 12), 3), _top(np.array([[0.9, 0.1]]), 10)
    (0.333, 0.9)
    """
    finite = m[np.isfinite(m)]
    largest = float(finite.max()) if finite.size else 0.0
    return max(largest, min(1.0, 4.0 / max(keys, 1)), 1e-6)


def _picture(m: np.ndarray, data: _Scores, size: tuple) -> np.ndarray:
    """``m`` colour-mapped (white to dark blue), padding and masked cells grey, shrunk to
    fit ``size``."""
    grey = np.zeros(m.shape, bool)
    grey[data.query_off, :] = True
    grey[:, data.key_off] = True
    small = np.nan_to_num(block_reduce(m, size).astype(np.float32))
    off = block_reduce(grey.astype(np.float32), size) >= 1.0
    v = np.clip(small / _top(small, m.shape[-1]), 0.0, 1.0)[..., None]
    rgb = np.round(255.0 + v * (np.array(DARK, np.float32) - 255.0)).astype(np.uint8)
    rgb[off] = GREY
    return rgb


# -- the scores' labels ----------------------------------------------------------
def _describe(state, layer: str, x, scores: np.ndarray) -> _Scores:
    """The labels and off (padding or masked) positions of one input's scores."""
    _, t, s = scores.shape
    q_src, k_src = _token_sources(state, layer, x, t, s)
    q_ids, k_ids = _ids(x, q_src, t), _ids(x, k_src, s)
    q_masked = np.all(scores == 0, axis=(0, 2))
    k_masked = np.all(scores == 0, axis=(0, 1))
    vocab = state.vocabulary
    queries = _labels(q_ids, q_masked, "q", vocab)
    keys = _labels(k_ids, k_masked, "k", vocab)
    # greyed: what the layer did not attend (masked); padding the model does not mask
    # is labelled as padding but keeps its colour (it gets real weight)
    q_off, k_off = q_masked, k_masked
    same = q_src is not None and q_src == k_src or (q_src is None and k_src is None and t == s)
    return _Scores(scores, queries, keys, np.asarray(q_off), np.asarray(k_off), same)


def _labels(ids, masked: np.ndarray, prefix: str, vocab) -> tuple:
    out = []
    for i in range(len(masked)):
        if ids is None:
            label = f"{prefix}{i}"
        elif int(ids[i]) == PAD:
            label = PAD_LABEL
        else:
            label = _word(int(ids[i]), vocab)
        out.append(MASK_MARK + label if masked[i] and label != PAD_LABEL else label)
    return tuple(out)


def _word(i: int, vocab) -> str:
    if vocab is None:
        return f"#{i}"
    try:
        word = vocab(i)
    except (IndexError, KeyError, ValueError, TypeError):
        return f"#{i}"
    return f"#{i}" if word in (None, "", "None") else str(word)


def _ids(x, source, n: int):
    if source is None:
        return None
    arr = np.asarray(x[source] if isinstance(x, list) else x).reshape(-1)
    return arr.astype(np.int64) if arr.size == n else None


def _token_sources(state, layer: str, x, t: int, s: int) -> tuple:
    """The inputs (indices) whose token ids the queries and the keys are, or None."""
    tokens = [i for i, kind in enumerate(state.input_kinds) if kind == "tokens"]
    if not tokens:
        return None, None
    traced = _traced(state, layer)
    found = []
    for side, n in zip(traced, (t, s), strict=True):
        fits = [i for i in tokens if _ids(x, i, n) is not None]
        picked = [i for i in fits if i in side] if side else fits
        found.append(picked[0] if len(picked) == 1 else None)
    return tuple(found)


def _traced(state, layer: str) -> tuple:
    """The model inputs the layer's query and key come from (empty sets if unknown)."""
    try:
        nodes = state.layer_info(layer).layer._inbound_nodes
        if len(nodes) != 1:  # a shared layer: which call runs first is not the node order
            return set(), set()
        node = nodes[0]
        args, kwargs = list(node.arguments.args), dict(node.arguments.kwargs)
        query = args[0] if args else kwargs.get("query")
        value = args[1] if len(args) > 1 else kwargs.get("value")
        key = kwargs.get("key", args[2] if len(args) > 2 else None)
        inputs = list(state.model.inputs)
        return _ancestors(query, inputs), _ancestors(value if key is None else key, inputs)
    except Exception:  # noqa: BLE001 - no graph (a subclassed or nested model): guess by length
        return set(), set()


def _ancestors(tensor, inputs: list) -> set:
    found, seen, stack = set(), set(), [tensor]
    while stack:
        t = stack.pop()
        if t is None or id(t) in seen:
            continue
        seen.add(id(t))
        found.update(i for i, x in enumerate(inputs) if x is t)
        history = getattr(t, "_keras_history", None)
        if history is None:
            continue
        nodes = getattr(history[0], "_inbound_nodes", [])
        if history[1] < len(nodes):
            stack.extend(nodes[history[1]].input_tensors)
    return found


def _api():
    from .. import attention

    return attention
