"""How a layer organises the inputs: its activations over every input, projected to 2-D,
coloured by class; clicking points or boxing them in selects inputs for every other view."""

from __future__ import annotations

import html
import threading
import time

import bqplot as bq
import ipywidgets as W
import numpy as np
from traitlets import Any, Enum, Int, TraitError, Tuple, Unicode, observe, validate

from ..compute import outputs as O
from ..compute import raster as R
from ..compute.data import check_indices
from ..compute.imaging import encode_png
from ..compute.population import Population
from .attribution_parts import Worker
from .base import ModelView
from .panels import status_html

#: Methods offered; ``"umap"`` needs the optional umap-learn package.
METHODS = ("pca", "tsne", "umap")
LABELS = {"pca": "PCA", "tsne": "t-SNE", "umap": "UMAP"}
#: Seconds between two drawings of a t-SNE while it optimises.
LIVE_EVERY = 0.3
UNKNOWN = (154, 154, 154)
#: Above this many points, ``renderer="auto"`` draws them into a PNG (SVG beyond it
#: takes seconds per redraw in the browser; see benchmarks/bench_projector_browser.py).
SVG_POINTS = 2_000
#: The plot area in px (the figure less its margins): the PNG's size.
PLOT = (380, 328)
MARGIN = {"top": 36, "bottom": 36, "left": 48, "right": 12}


class EmbeddingProjector(ModelView):
    """The selected layer's activations over all inputs, projected to 2-D.

    Each point is an input, coloured by its label or its prediction (class names from
    the state), with misclassified inputs crossed out and the selected input ringed.
    Click a point to select that input (``state.input_index``, and
    ``state.selection`` to it); with the "box" tool, click two corners of a rectangle,
    or with "lasso" (SVG points) draw around points, to select a group
    (``state.selection``): every other view follows. A new layer, new weights or
    units switched off (``state.ablation``) project again; projections are cached per
    layer, method and weights. PCA is computed at once; t-SNE and UMAP run in a
    background thread and t-SNE is drawn as it optimises.

    Parameters
    ----------
    state : ModelState
    method : {"pca", "tsne", "umap"}
        See :func:`nnwidgets.projection.project`.
    color_by : {"auto", "label", "prediction"}
        ``"auto"`` colours by label when there are labels, else by prediction.
    max_points : int
        Inputs projected at most (default 10,000): above it, a seeded random sample
        of that many, as the view says.
    renderer : {"auto", "svg", "png"}
        How the points reach the browser: one SVG element each (hover, lasso), or
        drawn into one PNG the size of the plot (bytes and drawing time bounded
        whatever the number of points; click and box still select). ``"auto"``:
        SVG up to 2,000 points.

    Attributes
    ----------
    points : numpy.ndarray
        ``(n, 2)`` float32, one row per input of :attr:`indices` (read-only).
    indices : tuple of int
        The inputs the points are, in row order (read-only).
    selected : tuple of int
        The inputs selected here (what a click or a box sets): one input sets
        ``state.input_index`` and ``state.selection``, several ``state.selection``.
    colors : tuple of int
        The class each point is coloured by (``-1``: unknown; read-only).
    misclassified : tuple of int
        Inputs whose predicted class differs from their label (read-only).
    progress : str
        What the background projection is doing ('' when idle; read-only).
    drawn_as : str
        ``"svg"`` or ``"png"``: how the points are drawn now (read-only).

    Examples
    --------
    >>> import nnwidgets as nw
    >>> x, y = nw.datasets.load_digits(60)
    >>> state = nw.ModelState(nw.datasets.demo_model(), x, y)
    >>> view = EmbeddingProjector(state)
    >>> view.points.shape, len(view.colors)
    ((60, 2), 60)
    >>> view.selected = (3, 7)  # as a box does
    >>> state.selection
    (3, 7)
    >>> view.close()
    """

    follows = ("layer", "version", "selection", "input_index", "output_kinds")

    method = Enum(METHODS, default_value="pca", help="Projection method.").tag(option=True)
    color_by = Enum(
        ("auto", "label", "prediction"), default_value="auto", help="What colours the points."
    ).tag(option=True)
    max_points = Int(10_000, min=10, help="Inputs projected at most.").tag(option=True)
    seed = Int(0, help="Seed of the projection and of the sample above max_points.").tag(
        option=True
    )
    points = Any(np.zeros((0, 2), np.float32), read_only=True, help="The points, (n, 2).")
    indices = Tuple(read_only=True, help="The inputs the points are.")
    selected = Tuple(help="The inputs selected here (a click, a box).")
    colors = Tuple(read_only=True, help="The class each point is coloured by (-1: unknown).")
    misclassified = Tuple(read_only=True, help="Inputs predicted otherwise than labelled.")
    progress = Unicode("", read_only=True, help="What the background projection is doing.")
    renderer = Enum(("auto", "svg", "png"), default_value="auto", help="SVG or PNG points.").tag(
        option=True
    )
    drawn_as = Unicode("", read_only=True, help="How the points are drawn now.")

    def build(self) -> tuple:
        self.x_scale, self.y_scale = bq.LinearScale(), bq.LinearScale()
        self.color_scale = bq.OrdinalColorScale(domain=[], colors=[])
        scales = {"x": self.x_scale, "y": self.y_scale}
        self.scatter = bq.Scatter(
            scales={**scales, "color": self.color_scale},
            default_size=24,
            stroke_width=0,
            opacities=[0.85],
            unselected_style={"opacity": 0.15},
            selected_style={"opacity": 1.0, "stroke": "black", "stroke-width": 1},
        )
        self.scatter.on_element_click(self._on_click)
        self.scatter.observe(self._on_mark_selected, names="selected")
        self.errors = bq.Scatter(
            scales=scales, marker="cross", default_size=12, colors=["#444444"], opacities=[0.6]
        )
        self.ring = bq.Scatter(
            scales=scales,
            default_size=140,
            colors=["#d0021b"],
            stroke="#d0021b",
            stroke_width=2.5,
            fill=False,
        )
        axes = [
            bq.Axis(scale=self.x_scale, label="", num_ticks=4, grid_lines="none"),
            bq.Axis(
                scale=self.y_scale, orientation="vertical", label="", num_ticks=4, grid_lines="none"
            ),
        ]
        self._images = [W.Image(format="png") for _ in range(2)]
        self.picture = bq.Image(image=self._images[0], scales=scales, visible=False)
        self.picture.on_element_click(self._on_picture_click)
        # (bqplot 0.13.1's BrushSelector never sends its rectangle while dragging: the
        # box is two clicks on the picture, which covers the plot in both modes)
        self.box = bq.Lines(
            x=np.zeros(0), y=np.zeros(0), scales=scales, colors=["#d0021b"], stroke_width=1.5
        )
        self._corner = None  # the first corner of a box being drawn
        self.lasso = bq.interacts.LassoSelector(marks=[self.scatter])
        self.figure = bq.Figure(
            marks=[self.picture, self.scatter, self.errors, self.ring, self.box],
            axes=axes,
            fig_margin=MARGIN,
            title_style={"font-size": "14px"},
            layout=W.Layout(width="440px", height="400px"),
        )
        self.figure.add_class("nnw-projector-figure")
        self.method_picker = W.Dropdown(
            options=[(LABELS[m], m) for m in METHODS],
            value=self.method,
            layout=W.Layout(width="110px"),
            tooltip="projection method",
        )
        self.method_picker.observe(self._on_method, names="value")
        self.tool = W.ToggleButtons(
            options=[("point", "point"), ("box", "box"), ("lasso", "lasso")],
            value="point",
            tooltips=["click a point", "click two corners of a box", "draw around points"],
            style={"button_width": "54px"},
        )
        self.tool.observe(self._on_tool, names="value")
        self.clear = W.Button(description="clear", icon="times", layout=W.Layout(width="70px"))
        self.clear.on_click(self._clear_selection)
        self.legend = W.HTML()
        self.note = W.HTML()
        self._box = (-1.0, 1.0, -1.0, 1.0)
        self._drawn = None  # what the PNG shows: (points, colours, selection, crossed)
        self._projections: dict = {}  # (layer, method, key, indices, seed) -> points
        self._shown_key = None
        self._lock = threading.Lock()
        self._request = None
        self._worker = Worker(self._project_in_background, lambda: None)
        self.add_class("nnw-projector")
        tools = W.HBox([self.method_picker, self.tool, self.clear])
        return (self.message, tools, self.figure, self.legend, self.note)

    # -- drawing -------------------------------------------------------------
    def on_state(self, change) -> None:
        if change["name"] in ("selection", "input_index"):
            self._mark_selection()
        else:
            self.draw()

    def render(self) -> None:
        state = self.state
        if state.n_inputs == 0:
            raise ValueError("the projector needs inputs: ModelState(model, inputs)")
        key = self.weights_key()
        indices = self._sample(state.n_inputs)
        request = (state.layer, self.method, key, indices, self.seed)
        self._colour(self.indices, key)
        if request == self._shown_key and self._mode(len(self.indices)) == self.drawn_as:
            self._mark_selection()
            return
        cached = self._projections.get(request)
        if cached is None and self.method != "pca":
            self._start(request)
            return
        with self._lock:
            self._request = None  # a background projection still running is dropped
        self.set_trait("progress", "")
        self._show(request, *(cached or self._compute(request)))

    def _mode(self, n: int) -> str:
        """``"svg"`` or ``"png"`` for ``n`` points."""
        if self.renderer != "auto":
            return self.renderer
        return "svg" if n <= SVG_POINTS else "png"

    def _sample(self, n: int) -> tuple:
        if n <= self.max_points:
            return tuple(range(n))
        rng = np.random.default_rng(self.seed)
        return tuple(np.sort(rng.choice(n, self.max_points, replace=False)).tolist())

    def _compute(self, request, live=None) -> tuple:
        """``(points, rows kept, note)``: the layer's features projected; ``live(iteration,
        points, rows, note)`` sees t-SNE's embedding as it optimises (True stops it)."""
        from ..projection import project

        layer, method, key, indices, seed = request
        feats = Population.of(self.state).features(layer, indices, key)
        finite = feats.finite
        notes = [feats.note] if feats.note else []
        if not finite.all():
            bad = int((~finite).sum())
            notes.append(
                f"{bad} input{'s' if bad > 1 else ''} with NaN or Inf activations left out"
            )
        values = feats.values[finite]
        if values.shape[1] == 0:
            raise ValueError(f"layer {layer!r} gives no features to project")
        rows = tuple(np.asarray(indices)[finite].tolist())
        note = "; ".join(notes)
        callback = None if live is None else (lambda i, e: live(i, e, rows, note))
        try:
            points = project(values, method, seed=seed, callback=callback)
        except ValueError as err:
            raise ValueError(f"{layer!r}: {err}") from None
        return np.asarray(points, np.float32), rows, note

    def _show(self, request, points, rows, note, final: bool = True) -> None:
        """Draw a projection (``final=False``: a t-SNE frame, neither cached nor kept as
        the projection shown)."""
        if final:
            self._projections = {
                **dict(list(self._projections.items())[-7:]),
                request: (points, rows, note),
            }
        self._shown_key = request if final else None
        with self.syncing():
            self.set_trait("points", points)
            self.set_trait("indices", rows)
            self._place(points)
            self._colour(rows, request[2], force=True)
        layer, method = request[0], LABELS[request[1]]
        self.figure.title = f"{layer}: {method} of {len(rows)} inputs"
        self._write_note(note)
        self._mark_selection()

    def _write_note(self, note: str) -> None:
        n = self.state.n_inputs
        parts = [note] if note else []
        if n > self.max_points:
            parts.append(
                f"showing a random {self.max_points:,} of {n:,} inputs (raise max_points for more)"
            )
        self.note.value = status_html("; ".join(parts)) if parts else ""

    # -- colours ---------------------------------------------------------------
    def _colour(self, rows: tuple, key, force: bool = False) -> None:
        """Colour the points by label or prediction, cross out the misclassified."""
        if not force and tuple(rows) != self.indices:
            return
        pop = Population.of(self.state)
        output = _class_output(self.state)
        truth = pop.truth(output) if output is not None else None
        predicted = pop.predicted(output, key) if output is not None else None
        if truth is not None and truth.ndim > 1:  # segmentation: per pixel, not per input
            truth = predicted = None
        by = self.color_by
        if by == "auto":
            by = "label" if truth is not None else "prediction"
        classes = truth if by == "label" else predicted
        idx = np.asarray(rows, dtype=np.int64)
        colors = np.full(len(idx), -1) if classes is None else classes[idx]
        names = self.state.class_names(output) if output is not None else None
        wrong = ()
        if truth is not None and predicted is not None:
            known = truth[idx] >= 0
            wrong = tuple(idx[known & (truth[idx] != predicted[idx])].tolist())
        self._paint(colors, names, by if classes is not None else "")
        self.set_trait("colors", tuple(int(c) for c in colors))
        self.set_trait("misclassified", wrong)
        self._mark_errors(wrong)

    def _paint(self, colors: np.ndarray, names, by: str) -> None:
        k = int(colors.max()) + 1 if colors.size and colors.max() >= 0 else 0
        palette = [_hex(O.PALETTE[i % len(O.PALETTE)]) for i in range(k)]
        if self.drawn_as == "svg":
            with self.color_scale.hold_sync():
                self.color_scale.domain = [*range(k), -1]
                self.color_scale.colors = [*palette, _hex(UNKNOWN)]
            self.scatter.color = colors.astype(np.int32)
        self.legend.value = _legend(colors, names, by, palette)

    def _mark_errors(self, wrong: tuple) -> None:
        pos = _positions(self.indices, wrong) if self.drawn_as == "svg" else []
        pts = np.asarray(self.points)
        with self.errors.hold_sync():
            self.errors.x = pts[pos, 0] if len(pos) else np.zeros(0)
            self.errors.y = pts[pos, 1] if len(pos) else np.zeros(0)

    # -- where and how the points are drawn ---------------------------------------
    def _place(self, points: np.ndarray) -> None:
        """Fix the scales around the points; choose SVG or PNG for their number."""
        mode = self._mode(len(points))
        self.set_trait("drawn_as", mode)
        self._corner = None
        self._box = R.extent(points)
        x0, x1, y0, y1 = self._box
        with self.x_scale.hold_sync():
            self.x_scale.min, self.x_scale.max = x0, x1
        with self.y_scale.hold_sync():
            self.y_scale.min, self.y_scale.max = y0, y1
        svg = mode == "svg"
        empty = np.zeros(0, np.float32)
        with self.scatter.hold_sync():
            self.scatter.x = points[:, 0] if svg else empty
            self.scatter.y = points[:, 1] if svg else empty
            if not svg:
                self.scatter.color = None
            self.scatter.visible = svg
        if svg:  # a clear picture over the plot still takes the clicks between points
            self._drawn = None
            spare = self._images[1] if self.picture.image is self._images[0] else self._images[0]
            spare.value = _CLEAR_PNG
            with self.picture.hold_sync():
                self.picture.image = spare
                self.picture.x, self.picture.y = (x0, x1), (y1, y0)
        self.picture.visible = True
        self._draw_box(None)
        options = [("point", "point"), ("box", "box")] + ([("lasso", "lasso")] if svg else [])
        if [tuple(o) for o in self.tool.options] != options:
            self.tool.options = options

    def _draw_picture(self) -> None:
        """Draw the points into one PNG (PNG mode): the selection bright, the other
        points pale, the misclassified crossed."""
        if self.drawn_as != "png":
            return
        signature = (id(self.points), self.colors, self.state.selection, self.misclassified)
        if signature == self._drawn:
            return
        self._drawn = signature
        pts = np.asarray(self.points)
        colors = np.asarray(self.colors, dtype=np.int64)
        k = int(colors.max()) + 1 if colors.size and colors.max() >= 0 else 0
        palette = np.array([*(O.PALETTE[i % len(O.PALETTE)] for i in range(k)), UNKNOWN])
        classes = np.where(colors < 0, k, colors) if colors.size else colors
        sel = _positions(self.indices, self.state.selection)
        faded = None
        if len(sel):
            faded = np.ones(len(pts), bool)
            faded[sel] = False
        wrong = np.zeros(len(pts), bool)
        wrong[_positions(self.indices, self.misclassified)] = True
        radius = 2 if len(pts) <= 20_000 else 1
        rgba = R.rasterize(pts, classes, palette, self._box, PLOT, radius, faded, wrong)
        spare = self._images[1] if self.picture.image is self._images[0] else self._images[0]
        spare.value = encode_png(rgba)
        x0, x1, y0, y1 = self._box
        with self.picture.hold_sync():
            self.picture.image = spare
            self.picture.x, self.picture.y = (x0, x1), (y1, y0)

    def _mark_selection(self) -> None:
        """Ring the selected input; show ``state.selection`` as the selected points."""
        state, pts = self.state, np.asarray(self.points)
        ring = _positions(self.indices, (state.input_index,))
        sel = _positions(self.indices, state.selection)
        with self.syncing():
            with self.ring.hold_sync():
                self.ring.x = pts[ring, 0] if len(ring) else np.zeros(0)
                self.ring.y = pts[ring, 1] if len(ring) else np.zeros(0)
            if self.drawn_as == "svg":
                self.scatter.selected = sel.tolist() if len(sel) else None
            self.selected = state.selection
        self._draw_picture()

    # -- background projections -------------------------------------------------
    def _start(self, request) -> None:
        with self._lock:
            self._request = request
        self.set_trait("progress", f"{LABELS[request[1]]}: starting\u2026")
        self.note.value = status_html(self.progress, busy=True)
        self._worker.submit(request)

    def _current(self, request) -> bool:
        return self._request == request and not self._closed

    def _project_in_background(self, request) -> None:
        last = [0.0]

        def live(iteration, embedding, rows, note):
            if not self._current(request):
                return True  # a newer request: stop
            now = time.perf_counter()
            if now - last[0] >= LIVE_EVERY:
                last[0] = now
                self._live(request, iteration, embedding, rows, note)
            return None

        try:
            result = self._compute(request, live)
        except Exception as err:  # noqa: BLE001 - shown in the view
            with self.drawing():
                if self._current(request):
                    self.set_trait("progress", "")
                    self.show_error(str(err))
            return
        with self.drawing():
            if not self._current(request):
                return
            self.set_trait("progress", "")
            self._show(request, *result)
            self.clear_error()

    def _live(self, request, iteration: int, embedding, rows, note) -> None:
        """Draw t-SNE's embedding as it optimises: points, scales, colours and marks
        all of this frame (clicks select what is on the screen)."""
        with self.drawing():
            if not self._current(request):
                return
            text = f"{LABELS[request[1]]}: iteration {iteration}\u2026"
            self.set_trait("progress", text)
            self._show(request, np.asarray(embedding, np.float32), rows, note, final=False)
            self.note.value = status_html(text, busy=True)

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until no projection runs in the background; return whether none does."""
        return self._worker.wait(timeout)

    # -- what a person does -------------------------------------------------------
    def _on_click(self, _mark, event) -> None:
        index = event.get("data", {}).get("index")
        if index is None or not 0 <= index < len(self.indices):
            return
        if self.tool.value == "box":  # a corner on a point
            self.corner(*(float(v) for v in np.asarray(self.points)[index]))
        else:
            self._select((self.indices[index],))

    def _on_picture_click(self, _mark, event) -> None:
        """A click on the plot (not on an SVG point): the nearest point within a few
        pixels, or, with the box tool, a corner of the box."""
        data = event.get("data", {})
        try:
            x, y = float(data["click_x"]), float(data["click_y"])
        except (KeyError, TypeError, ValueError):
            return
        if self.tool.value == "box":
            self.corner(x, y)
            return
        row = R.nearest(self.points, x, y, self._box, PLOT)
        if row is not None:
            self._select((self.indices[row],))

    def _clear_selection(self, _button=None) -> None:
        self._corner = None
        self._draw_box(None)
        self._select(())

    def corner(self, x: float, y: float) -> None:
        """One corner of a box (what a click with the box tool gives): the first is
        marked, the second selects the points inside the box."""
        if self._corner is None:
            self._corner = (x, y)
            self._draw_box((x, y, x, y))
            return
        (x0, y0), self._corner = self._corner, None
        rows = R.inside(self.points, (x0, x), (y0, y))
        self._select(tuple(self.indices[r] for r in rows))
        self._draw_box((x0, y0, x, y))

    def _draw_box(self, box) -> None:
        if box is None:
            xs = ys = np.zeros(0)
        else:
            x0, y0, x1, y1 = box
            xs, ys = np.array([x0, x1, x1, x0, x0]), np.array([y0, y0, y1, y1, y0])
        with self.box.hold_sync():
            self.box.x, self.box.y = xs, ys

    def _on_mark_selected(self, change) -> None:
        if not self.from_user or self.tool.value != "lasso":
            return
        pos = change["new"]
        pos = [] if pos is None else [int(p) for p in np.ravel(pos) if 0 <= p < len(self.indices)]
        self._select(tuple(self.indices[p] for p in pos))

    @validate("selected")
    def _validate_selected(self, proposal):
        n = self.state.n_inputs if self.state is not None else 0
        try:
            return tuple(
                sorted(set(check_indices(proposal["value"], n, "EmbeddingProjector.selected")))
            )
        except ValueError as err:
            raise TraitError(str(err)) from None

    @observe("selected")
    def _on_selected(self, change) -> None:
        if self.from_user and not self._closed:
            self._select(change["new"])

    def _select(self, sel: tuple) -> None:
        """Select inputs (a click, a box): ``state.selection``, and ``input_index``
        for one input (even when it was selected already)."""
        sel = tuple(sorted({int(i) for i in sel}))
        with self.syncing():
            self.selected = sel
        state = self.state
        with state.hold_trait_notifications():
            if len(sel) == 1:
                state.input_index = sel[0]
            state.selection = sel

    def _on_method(self, change) -> None:
        if self.from_user:
            self.method = change["new"]

    @observe("method")
    def _method_changed(self, change) -> None:
        if self._built:
            with self.syncing():
                self.method_picker.value = change["new"]

    def _on_tool(self, change) -> None:
        self._corner = None
        self._draw_box(None)
        self.figure.interaction = self.lasso if change["new"] == "lasso" else None

    def close(self) -> None:
        with self._lock:
            self._request = None
        self._worker.cancel()
        images = getattr(self, "_images", [])
        super().close()
        for image in images:
            image.close()


_CLEAR_PNG = encode_png(np.zeros((1, 1, 4), np.uint8))


def _class_output(state) -> int | None:
    """The first output with classes (or a class map), or None."""
    kinds = state.output_kinds
    return next((i for i, k in enumerate(kinds) if k in ("classes", "segmentation")), None)


def _positions(indices: tuple, wanted) -> np.ndarray:
    """Rows of ``indices`` that hold the inputs in ``wanted``."""
    if not indices or not len(wanted):
        return np.zeros(0, dtype=np.int64)
    idx = np.asarray(indices)
    return np.flatnonzero(np.isin(idx, np.asarray(list(wanted))))


def _hex(rgb) -> str:
    return "#{:02x}{:02x}{:02x}".format(*(int(c) for c in rgb))


def _legend(colors: np.ndarray, names, by: str, palette: list) -> str:
    if not by:
        return status_html("no classes to colour by: one colour for every input")
    counts = np.bincount(colors[colors >= 0], minlength=len(palette)) if len(palette) else []
    items = [
        f'<span style="white-space:nowrap"><span style="display:inline-block;width:10px;'
        f'height:10px;border-radius:5px;background:{palette[i]};margin-right:3px"></span>'
        f"{html.escape(O.class_name(i, names))} ({int(c)})</span>"
        for i, c in enumerate(counts)
        if c
    ][:24]
    if (colors < 0).any():
        items.append(
            f'<span style="color:{_hex(UNKNOWN)}">\u25cf unknown ({int((colors < 0).sum())})</span>'
        )
    caption = "label" if by == "label" else "predicted class"
    return (
        f'<div style="font-size:12px"><b>colour: {caption}</b>; \u2715 misclassified, '
        '<span style="color:#d0021b">\u25cb</span> selected input</div>'
        '<div style="font-size:12px;display:flex;flex-wrap:wrap;gap:2px 10px">'
        + "".join(items)
        + "</div>"
    )
