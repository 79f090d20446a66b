"""Which classes the model confuses: a confusion matrix whose cells select their inputs."""

from __future__ import annotations

import bqplot as bq
import ipywidgets as W
import numpy as np
from traitlets import Any, Enum, Int, TraitError, observe, validate

from ..compute import outputs as O
from ..compute.confusion import cell_inputs, confusion, row_shares, shown_classes
from ..compute.population import Population
from .base import ModelView
from .gallery import Gallery
from .panels import status_html

#: Classes shown at most (those with the most inputs); a cell per pair.
MAX_CLASSES = 30
#: Classes up to which every cell says its number.
LABELLED = 15


class ConfusionMatrix(ModelView):
    """Counts of (true class, predicted class) over every input; click a cell to select
    its inputs (``state.selection``), shown in a gallery below: click one to select it.

    The gallery shows ``state.selection`` whoever set it (a cell here, a brush in the
    :class:`~nnwidgets.views.projector.EmbeddingProjector`). For a segmentation output
    every pixel counts, and a cell selects the inputs with at least one such pixel.
    Predictions follow the weights and the units switched off (``state.ablation``).

    Parameters
    ----------
    state : ModelState
    output : int
        Which output (default: the first with classes or a class map).
    normalize : {"true", "none"}
        Colour (and number) each cell by its share of the row's inputs (``"true"``,
        the default) or by its count.

    Attributes
    ----------
    matrix : numpy.ndarray
        ``(k, k)`` counts, rows the labels, columns the predictions (read-only).
    cell : tuple or None
        ``(true, predicted)`` of the cell selected (what a click sets), or None.
    classes : numpy.ndarray
        The classes the drawn rows and columns are (all of them up to 30).
    gallery : Gallery
        The selected inputs.

    Examples
    --------
    >>> import nnwidgets as nw
    >>> x, y = nw.datasets.load_digits(80)
    >>> state = nw.ModelState(nw.datasets.demo_model(), x, y)
    >>> view = ConfusionMatrix(state)
    >>> int(view.matrix.sum()), view.matrix.shape
    (80, (10, 10))
    >>> view.cell = (3, 3)  # as a click on that cell does
    >>> all(int(y[i]) == 3 for i in state.selection)
    True
    >>> view.close()
    """

    follows = ("version", "selection", "output_kinds")

    output = Int(None, allow_none=True, help="The output (None: the first with classes).").tag(
        option=True
    )
    normalize = Enum(("true", "none"), default_value="true", help="Cell colours.").tag(option=True)
    matrix = Any(np.zeros((0, 0), np.int64), read_only=True, help="Counts, labels x predictions.")
    cell = Any(None, allow_none=True, help="(true, predicted) of the selected cell, or None.")
    classes = Any(np.zeros(0, np.int64), read_only=True, help="Classes drawn.")

    def build(self) -> tuple:
        self.row_scale = bq.OrdinalScale(reverse=True)  # the first class on top
        self.col_scale = bq.OrdinalScale()
        # (light to mid blue: bqplot draws the cells' numbers in black)
        self.color_scale = bq.ColorScale(colors=["#ffffff", "#5b9bd5"], min=0)
        self.grid = bq.GridHeatMap(
            scales={"row": self.row_scale, "column": self.col_scale, "color": self.color_scale},
            stroke="white",
            font_style={"font-size": "11px"},
        )
        self.grid.on_element_click(self._on_click)
        axes = [
            bq.Axis(scale=self.col_scale, label="predicted", tick_rotate=-45),
            bq.Axis(scale=self.row_scale, orientation="vertical", label="label"),
        ]
        self.figure = bq.Figure(
            marks=[self.grid],
            axes=axes,
            fig_margin={"top": 30, "bottom": 70, "left": 80, "right": 10},
            title_style={"font-size": "14px"},
            layout=W.Layout(width="440px", height="440px"),
        )
        self.figure.add_class("nnw-confusion-figure")
        self.summary = W.HTML()
        self.gallery = Gallery(self.state, title="selected inputs", columns=8)
        self._data = None  # (key, output, truth, predicted)
        self.add_class("nnw-confusion")
        return (self.message, self.summary, self.figure, self.gallery)

    def on_state(self, change) -> None:
        if change["name"] == "selection":
            self._follow_selection()
        else:
            self.draw()

    def render(self) -> None:
        state = self.state
        output = self._output()
        pop = Population.of(state)
        truth = pop.truth(output)
        if truth is None:
            self._clear()
            raise ValueError(
                "the confusion matrix needs labels: explore(model, x, y) or "
                "ModelState(model, x, labels)"
            )
        key = self.weights_key()
        predicted = pop.predicted(output, key)
        k = max(state.output_units(output), 2 if predicted.ndim == 1 else 1)
        k = max(k, int(truth.max()) + 1, int(predicted.max()) + 1 if predicted.size else 0)
        matrix = confusion(truth, predicted, k)
        self._data = (truth, predicted, output)
        self.set_trait("matrix", matrix)
        self._draw_matrix(matrix, state.class_names(output), truth.ndim > 1)
        self._follow_selection()

    def _output(self) -> int:
        kinds = self.state.output_kinds
        if self.output is not None:
            if not 0 <= self.output < len(kinds) or kinds[self.output] not in _KINDS:
                raise ValueError(
                    f"output {self.output} is not a classifier's output (kinds: {kinds})"
                )
            return self.output
        found = next((i for i, k in enumerate(kinds) if k in _KINDS), None)
        if found is None:
            raise ValueError(
                f"the confusion matrix needs a classes or segmentation output; this model's "
                f"outputs are {', '.join(kinds) or 'unknown'}"
            )
        return found

    def _draw_matrix(self, matrix: np.ndarray, names, per_pixel: bool) -> None:
        shown = shown_classes(matrix, MAX_CLASSES)
        self.set_trait("classes", shown)
        sub = matrix[np.ix_(shown, shown)]
        labels = [O.class_name(int(c), names) for c in shown]
        share = self.normalize == "true"
        color = row_shares(sub) if share else sub.astype(np.float64)
        with self.grid.hold_sync():
            self.grid.color = color  # (first: bqplot checks rows against it)
            self.grid.row, self.grid.column = labels, labels
            self.grid.display_format = (".0%" if share else "d") if len(shown) <= LABELLED else None
        self.color_scale.max = 1.0 if share else float(max(color.max(), 1))
        total = int(matrix.sum())
        right = int(np.trace(matrix))
        unit = "pixels" if per_pixel else "inputs"
        text = f"accuracy {right / total:.1%} of {total:,} labelled {unit}" if total else ""
        if len(shown) < len(matrix):
            text += f"; the {len(shown)} of {len(matrix)} classes with the most {unit} are shown"
        off = self.state.ablation_at(self.weights_key())
        if off:
            text += " (units switched off)"
        self.figure.title = "click a cell to select its inputs"
        self.summary.value = status_html(text)

    def _clear(self) -> None:
        self.set_trait("matrix", np.zeros((0, 0), np.int64))
        self._data = None
        with self.grid.hold_sync():
            self.grid.color = np.zeros((0, 0))
            self.grid.row, self.grid.column = None, None
        self.summary.value = ""

    # -- cells and the selection -------------------------------------------------
    def _on_click(self, _mark, event) -> None:
        data = (event or {}).get("data") or {}  # the clicked cell's datum
        row, col = data.get("rowNum"), data.get("columnNum")
        shown = self.classes
        if row is not None and col is not None and row < len(shown) and col < len(shown):
            self.cell = (int(shown[row]), int(shown[col]))

    @validate("cell")
    def _validate_cell(self, proposal):
        cell, k = proposal["value"], len(self.matrix)
        if cell is None:
            return None
        ok = isinstance(cell, (tuple, list)) and len(cell) == 2
        ok = ok and all(isinstance(c, (int, np.integer)) and not isinstance(c, bool) for c in cell)
        if not ok or not all(0 <= c < k for c in cell):
            raise TraitError(
                f"ConfusionMatrix.cell must be None or (true class, predicted class), each in "
                f"0..{k - 1}; got {cell!r}"
            )
        return (int(cell[0]), int(cell[1]))

    @observe("cell")
    def _on_cell(self, change) -> None:
        if not self._built or not self.from_user or self._data is None:
            return
        cell = change["new"]
        if cell is None:
            self.state.selection = ()
            return
        true, pred = (int(c) for c in cell)
        truth, predicted, _ = self._data
        self.state.selection = cell_inputs(truth, predicted, true, pred)

    def _follow_selection(self) -> None:
        """Show ``state.selection`` in the gallery; forget the cell it no longer is."""
        sel = self.state.selection
        if self.cell is not None and self._data is not None:
            truth, predicted, _ = self._data
            if sel != cell_inputs(truth, predicted, *self.cell):
                with self.syncing():
                    self.cell = None
        names = self.state.class_names(self._data[2]) if self._data else None
        title = "selected inputs"
        if self.cell is not None:
            t, p = (O.class_name(c, names) for c in self.cell)  # (the gallery escapes)
            title = f"labelled {t}, predicted {p}"
        self.gallery.title = title
        self.gallery.show(sel, self._captions(sel, names))

    def _captions(self, sel: tuple, names) -> tuple:
        if self._data is None or not sel or self._data[0].ndim > 1:
            return ()
        truth, predicted, _ = self._data
        out = []
        for i in sel:
            t, p = int(truth[i]), int(predicted[i])
            tn, pn = O.class_name(t, names), O.class_name(p, names)
            out.append(tn if t == p else f"{tn}\u2192{pn}")
        return tuple(out)


_KINDS = ("classes", "segmentation")
