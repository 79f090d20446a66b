"""What the model predicts for the selected input: one panel per output, by kind."""

from __future__ import annotations

import html

import bqplot as bq
import ipywidgets as W
import numpy as np
from traitlets import Float, Int, Tuple

from ..compute import outputs as O
from ..compute.imaging import encode_png, upscale_nearest
from .base import ModelView
from .panels import BarPanel, stats_html
from .samples import sample_picture

BLUE, ORANGE, GREY = "#4c78a8", "#f58518", "#b0b0b0"


class ClassesPanel:
    """Top-k classes as horizontal bars: names and probabilities, the label marked."""

    def __init__(self):
        self.y_scale = bq.OrdinalScale(reverse=True)
        self.x_scale = bq.LinearScale(min=0.0, max=1.0)
        self.bars = bq.Bars(
            x=["0"],
            y=[0.0],
            orientation="horizontal",
            scales={"x": self.y_scale, "y": self.x_scale},
            colors=[BLUE],
            padding=0.25,
        )
        axes = [
            bq.Axis(scale=self.y_scale, orientation="vertical", tick_style={"font-size": "11px"}),
            bq.Axis(scale=self.x_scale, label="probability", tick_format=".1f", num_ticks=3),
        ]
        self.figure = bq.Figure(
            marks=[self.bars],
            axes=axes,
            fig_margin={"top": 6, "bottom": 36, "left": 110, "right": 12},
            layout=W.Layout(width="360px", height="150px"),
        )
        self.key, self.widget = _keyed(self.figure, "the label")
        #: the names and probabilities drawn, largest first
        self.names: list[str] = []
        self.values = np.zeros(0)

    def show(self, out, label, names, activation: str, k: int) -> None:
        probs = O.probabilities(out, activation)
        order = O.top_k(probs, k)
        true = O.label_class(label) if label is not None else None
        self.names = [_short(O.class_name(int(i), names), 16) for i in order]
        self.values = probs[order]
        colors = [ORANGE if true is not None and int(i) == true else BLUE for i in order]
        self.figure.layout.height = f"{50 + 22 * len(order)}px"
        with self.bars.hold_sync():
            self.bars.x, self.bars.y = self.names, np.nan_to_num(self.values)
            self.bars.colors = colors


class MultilabelPanel:
    """Every label's probability as bars, with the threshold line; labels marked."""

    MAX = 32

    def __init__(self):
        self.x_scale = bq.OrdinalScale()
        self.y_scale = bq.LinearScale(min=0.0, max=1.0)
        scales = {"x": self.x_scale, "y": self.y_scale}
        self.bars = bq.Bars(x=["0"], y=[0.0], scales=scales, colors=[BLUE], padding=0.2)
        self.line = bq.Lines(
            x=["0"], y=[0.5], scales=scales, colors=["#d0021b"], line_style="dashed"
        )
        axes = [
            bq.Axis(scale=self.x_scale, tick_rotate=-45, tick_style={"font-size": "10px"}),
            bq.Axis(scale=self.y_scale, orientation="vertical", tick_format=".1f", num_ticks=3),
        ]
        self.figure = bq.Figure(
            marks=[self.bars, self.line],
            axes=axes,
            fig_margin={"top": 6, "bottom": 60, "left": 40, "right": 10},
            layout=W.Layout(width="360px", height="190px"),
        )
        threshold = ' \u00b7 <span style="color:#d0021b">- -</span> threshold'
        self.key, self.widget = _keyed(self.figure, "in the label" + threshold)
        self.names: list[str] = []
        self.values = np.zeros(0)
        self.predicted: list[str] = []

    def show(self, out, label, names, activation: str, threshold: float) -> None:
        probs = O.unit_probabilities(out, activation)
        order = np.arange(probs.size)
        if probs.size > self.MAX:
            order = np.sort(O.top_k(probs, self.MAX))
        truth = np.asarray(label).reshape(-1) > 0.5 if label is not None else None
        self.names = [_short(O.class_name(int(i), names), 12) for i in order]
        self.values = probs[order]
        self.predicted = [n for n, p in zip(self.names, self.values, strict=True) if p > threshold]
        colors = [
            ORANGE if truth is not None and i < truth.size and truth[i] else BLUE for i in order
        ]
        with self.bars.hold_sync():
            self.bars.x, self.bars.y, self.bars.colors = (
                self.names,
                np.nan_to_num(self.values),
                colors,
            )
        with self.line.hold_sync():
            self.line.x = [self.names[0], self.names[-1]]
            self.line.y = [threshold, threshold]


class ValuesPanel:
    """Regression outputs: predicted beside the label, as a table (or lines when long)."""

    MAX_ROWS = 16

    def __init__(self):
        self.table = W.HTML()
        self.bars = BarPanel("", "unit", "value", width="360px", height="200px")
        self.widget = W.VBox([self.table, self.bars.figure])
        self.predicted = np.zeros(0)

    def show(self, out, label, names=None) -> None:
        v = np.asarray(out, dtype=np.float64).reshape(-1)
        y = None if label is None else np.asarray(label, dtype=np.float64).reshape(-1)
        self.predicted = v
        if v.size <= self.MAX_ROWS:
            self.table.value = _values_table(v, y, names)
            self.bars.figure.layout.display = "none"
        else:
            self.table.value = stats_html(_stats(v))
            self.bars.figure.layout.display = None
            self.bars.show(np.arange(v.size), v)


class MaskPanel:
    """A segmentation: the predicted class map over the input, beside the true mask."""

    def __init__(self):
        layout = dict(width="160px", height="160px", border="1px solid #888")
        self.overlay = W.Image(format="png", layout=W.Layout(**layout))
        self.truth_image = W.Image(format="png", layout=W.Layout(**layout))
        self.overlay.add_class("nnw-mask-predicted")
        self.truth_image.add_class("nnw-mask-true")
        self.captions = W.HTML()
        self.legend = W.HTML()
        self.widget = W.VBox([W.HBox([self.overlay, self.truth_image]), self.captions, self.legend])
        #: the predicted class map and the true one (or None)
        self.predicted = np.zeros((0, 0), np.int64)
        self.truth = None

    def show(self, out, label, names, activation: str, picture) -> None:
        classes = O.class_map(out, activation)
        n = max(np.asarray(out).shape[-1], 2)
        self.predicted = classes
        base = _fit_picture(picture, classes.shape)
        pred_rgb = O.overlay(base, classes) if base is not None else O.colour_classes(classes)
        self.overlay.value = encode_png(upscale_nearest(pred_rgb, 150))
        self.truth = O.mask_classes(label) if label is not None else None
        if self.truth is not None and self.truth.shape == classes.shape:
            self.truth_image.value = encode_png(upscale_nearest(O.colour_classes(self.truth), 150))
            self.truth_image.layout.display = None
            agree = float(np.mean(self.truth == classes))
            right = f"true mask \u00b7 {agree:.0%} of pixels agree"
        else:
            self.truth_image.layout.display = "none"
            right = "no true mask given" if label is None else "true mask of another size"
        self.captions.value = (
            f'<div style="font-size:11px;opacity:.8">predicted classes over the input '
            f"\u00b7 {right}</div>"
        )
        self.legend.value = O.legend_html(O.class_shares(classes, n), names)


class ImagePanel:
    """An image output beside the input (and the label image, when given)."""

    def __init__(self):
        layout = dict(width="110px", height="110px", border="1px solid #888")
        self.images = [W.Image(format="png", layout=W.Layout(**layout)) for _ in range(3)]
        self.images[1].add_class("nnw-image-output")
        self.captions = W.HTML()
        self.widget = W.VBox([W.HBox(self.images), self.captions])
        self.picture = None

    def show(self, out, label, picture) -> None:
        pic = sample_picture(np.asarray(out))
        self.picture = pic
        names = []
        for image, arr, name in (
            (self.images[0], picture, "input"),
            (self.images[1], pic, "output"),
            (self.images[2], None if label is None else sample_picture(np.asarray(label)), "label"),
        ):
            if arr is None:
                image.layout.display = "none"
                continue
            image.layout.display = None
            image.value = encode_png(upscale_nearest(arr, 100))
            names.append(name)
        shape = "\u00d7".join(str(n) for n in np.shape(out))
        text = " \u00b7 ".join(names) + f" \u00b7 output {shape}"
        self.captions.value = f'<div style="font-size:11px;opacity:.8">{text}</div>'


class PredictionView(ModelView):
    """The model's outputs for the selected input, each drawn for its kind.

    Classes as the top-k names with probabilities, several labels as bars with the
    threshold, values beside their labels, a segmentation as the predicted class map
    over the input beside the true mask, an image output beside the input; one panel
    per output, each titled with the output's name and what it predicted.

    Parameters
    ----------
    state : ModelState
    top_k : int
        Classes listed for a class output (1 to 20; default 5).
    threshold : float
        Probability above which a label of a multi-label output is predicted.

    Attributes
    ----------
    kinds : tuple of str
        The kind of each output drawn (``state.output_kinds``; read-only).
    summaries : tuple of str
        One line per output saying what was predicted (read-only).

    Examples
    --------
    >>> view = PredictionView(state, top_k=3)  # doctest: +SKIP
    >>> view.summaries  # doctest: +SKIP
    ('predicted 7 (p=0.91) \u00b7 label 7 \u2713',)
    """

    follows = ("input_index", "version", "output_kinds")

    top_k = Int(5, min=1, max=20, help="Classes listed for a class output.").tag(option=True)
    threshold = Float(0.5, min=0.0, max=1.0, help="Multi-label threshold.").tag(option=True)
    kinds = Tuple(read_only=True, help="Kind of each output drawn.")
    summaries = Tuple(read_only=True, help="What was predicted, one line per output.")

    def build(self) -> tuple:
        self.body = W.VBox()
        self.panels: list = []
        self.add_class("nnw-predictions")
        return (self.message, self.body)

    def render(self) -> None:
        state = self.state
        if state.n_inputs == 0:
            self.body.children = ()
            raise ValueError("no inputs: pass inputs= to ModelState")
        kinds = state.output_kinds
        if tuple(p.kind for p in self.panels) != kinds:
            self._make_panels(kinds)
        outs = state.predictions(key=self.weights_key())
        picture = self._input_picture()
        summaries = []
        for i, (panel, out) in enumerate(zip(self.panels, outs, strict=False)):
            label = state.label(output=i)
            names = state.class_names(i)
            activation = state.output_activation(i)
            text = O.summary(panel.kind, out, label, names, activation)
            summaries.append(text)
            title = state.output_names[i] if len(outs) > 1 else ""
            panel.title.value = _title_html(title, panel.kind, text)
            if not np.all(np.isfinite(np.asarray(out, dtype=np.float64))):
                panel.draw.widget.layout.display = "none"
                continue
            panel.draw.widget.layout.display = None
            self._show(panel, out, label, names, activation, picture)
        self.set_trait("kinds", kinds)
        self.set_trait("summaries", tuple(summaries))

    def _show(self, panel, out, label, names, activation, picture) -> None:
        draw = panel.draw
        if panel.kind == "classes":
            draw.show(out, label, names, activation, self.top_k)
        elif panel.kind == "multilabel":
            draw.show(out, label, names, activation, self.threshold)
        elif panel.kind == "segmentation":
            draw.show(out, label, names, activation, picture)
        elif panel.kind == "image":
            draw.show(out, label, picture)
        else:
            draw.show(out, label)

    def _make_panels(self, kinds) -> None:
        panels = []
        for kind in kinds:
            draw = {
                "classes": ClassesPanel,
                "multilabel": MultilabelPanel,
                "segmentation": MaskPanel,
                "image": ImagePanel,
            }.get(kind, ValuesPanel)()
            panels.append(_Panel(kind, W.HTML(), draw))
        self.panels = panels
        self.body.children = [W.VBox([p.title, p.draw.widget]) for p in panels]

    def _input_picture(self):
        """The first image input of the selected sample, as a picture (or None)."""
        state = self.state
        arrays = state.inputs if isinstance(state.inputs, list) else [state.inputs]
        for kind, arr in zip(state.input_kinds, arrays, strict=False):
            if kind == "image":
                return sample_picture(arr[state.input_index])
        return None


class _Panel:
    def __init__(self, kind: str, title: W.HTML, draw):
        self.kind, self.title, self.draw = kind, title, draw


def _keyed(figure, label: str) -> tuple[W.HTML, W.VBox]:
    """A key under bars (blue: probability, orange: ``label``) and the box of both."""
    key = W.HTML(
        '<div style="font-size:11px;opacity:.8">'
        f"{_swatch(BLUE)} probability \u00b7 {_swatch(ORANGE)} {label}</div>"
    )
    return key, W.VBox([figure, key])


def _swatch(color: str) -> str:
    """A small box of colour for a key (a box, not a glyph: no text to read)."""
    return (
        f'<span style="display:inline-block;width:9px;height:9px;background:{color};'
        'margin-right:3px"></span>'
    )


def _title_html(name: str, kind: str, text: str) -> str:
    head = f"<b>{html.escape(name)}</b> ({kind}): " if name else ""
    return f'<div class="nnw-prediction" style="font-size:13px">{head}{html.escape(text)}</div>'


def _short(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "\u2026"


def _values_table(v, y, names) -> str:
    head = (
        "<tr><th></th><th>predicted</th>"
        + ("<th>label</th><th>error</th>" if y is not None else "")
        + "</tr>"
    )
    rows = [head]
    for i, p in enumerate(v):
        name = html.escape(str(names[i])) if names is not None and i < len(names) else f"[{i}]"
        cells = f"<td>{name}</td><td>{O.number(p)}</td>"
        if y is not None and i < y.size:
            cells += f"<td>{O.number(y[i])}</td><td>{O.number(p - y[i])}</td>"
        rows.append(f"<tr>{cells}</tr>")
    return (
        '<table class="nnw-values" style="font-size:12px;text-align:right;border-spacing:10px 0">'
        + "".join(rows)
        + "</table>"
    )


def _stats(v: np.ndarray) -> dict:
    from ..compute.display import stats

    return stats(v)


def _fit_picture(picture, shape):
    """The input picture at the mask's size (nearest), or None."""
    if picture is None:
        return None
    h, w = shape
    ph, pw = picture.shape[:2]
    rows = (np.arange(h) * ph // h).clip(0, ph - 1)
    cols = (np.arange(w) * pw // w).clip(0, pw - 1)
    return picture[rows][:, cols]
