"""The data itself, for each input kind: class balance, value distributions, per-sample
statistics with their outliers, and a gallery of the samples a filter picks."""

from __future__ import annotations

import html

import bqplot as bq
import ipywidgets as W
import numpy as np
from traitlets import Enum, Int, TraitError, Tuple, Unicode, observe, validate

from ..compute import datastats as D
from ..compute.outputs import class_name
from ..compute.population import Population
from .base import ModelView
from .panels import figure

FILTERS = ("all", "outliers", "misclassified", "selection")
WIDTH = "480px"
BLUE, GREY, ORANGE, RED = "#4c78a8", "#444444", "#f58518", "#d62728"
#: Kinds of output whose labels are classes (per sample, or per pixel).
LABELLED = ("classes", "segmentation")
#: Class names written under the bars at most (the others are in the tooltips).
MAX_TICKS = 16
ALL = -1  # a picker's "all" (a Dropdown's value cannot be None)


def _note(text: str) -> str:
    return f'<div style="font-size:12px;opacity:.85">{text}</div>'


def _warn(text: str) -> str:
    return f'<b style="color:#d0021b">\u26a0 {text}</b>'


class DataExplorer(ModelView):
    """The data itself, for each input kind, before any model.

    - **Class balance**: samples per class (pixels per class for a segmentation
      output), from the labels of the first ``"classes"`` or ``"segmentation"``
      output; a click on a bar picks that class. Without labels, a note says so.
    - **Value distribution**: a histogram (at most 60 bins) of the input's values —
      pixel intensities, a sequence's or a table's values (one feature or all), or for
      token ids the sequence lengths (tokens other than padding, id 0) beside the most
      frequent tokens as words. With a class picked, that class's distribution (its
      pixels, for masks the input's size) is drawn as bars under the overall one (a
      grey outline), each as a share of its values. NaN and Inf are counted apart and
      stated; when outlier samples spread the values far wider than the others do,
      the bins span the others' values and the values beyond are counted apart.
    - **Per-sample statistics**: each sample's mean and standard deviation (length and
      distinct tokens for token ids) as one scatter, outliers in orange, samples with
      NaN or Inf in red (see :mod:`nnwidgets.compute.datastats` for the robust z-score,
      threshold 3.5). At most 10,000 points are drawn (every outlier, then a seeded
      sample), and the note says so. A click on a point selects that input.
    - **Gallery** of the samples the filter picks (``"all"``, ``"outliers"``,
      ``"misclassified"``, ``"selection"``), of the picked class only when one is.

    The statistics depend on the data only: they are computed once per input (and
    again after ``state.set_data``); a new ``version`` (training, units switched off)
    only recomputes the misclassified samples, and only while that filter is shown.

    Parameters
    ----------
    state : ModelState
    input, feature, class_value, filter
        The options below.

    Attributes
    ----------
    input : int
        Which model input is shown (a position in ``state.input_names``; default 0).
    feature : int or None
        The feature (last axis: a column of a table, a sequence's feature, an image's
        channel) the histogram counts; None counts them all (a table starts on its
        first column).
    class_value : int or None
        The class whose samples the histogram and the gallery show (None: all).
    filter : {"all", "outliers", "misclassified", "selection"}
        Which samples the gallery shows.
    classes, counts : tuple
        The class names and their samples (pixels) per class (read-only).
    edges, overall, histogram : tuple
        The histogram's bin edges, counts over every sample, and counts of what is
        shown (the class's when one is picked; read-only).
    nonfinite : int
        NaN and Inf values among those the histogram counts (read-only).
    beyond : int
        Finite values beyond the bins (read-only): the bins span the values of the
        samples that are not outliers, so that one sample scaled 50 times does not
        squeeze every other into a bin; the outliers' values beyond are counted here.
    outliers, nonfinite_samples : tuple of int
        Outliers, most extreme first, and the samples holding NaN or Inf (read-only).
    plotted : tuple of int
        The samples the scatter draws, in the mark's order (read-only).
    shown : tuple of int
        The samples the gallery shows, in order (read-only).
    filters : tuple of str
        The filters that can show samples now (read-only).
    filter_note : str
        Why the filter shows nothing ('' when it shows samples; read-only).
    top_tokens : tuple
        Token inputs: ``(word, count)`` of the most frequent tokens (read-only).

    Examples
    --------
    >>> import numpy as np, nnwidgets as nw
    >>> x, y = nw.datasets.load_digits(100)
    >>> view = DataExplorer(nw.ModelState(nw.datasets.demo_model(), x, y))
    >>> view.counts == tuple(np.bincount(y))
    True
    >>> view.class_value = 3
    >>> view.shown == tuple(np.flatnonzero(y == 3))
    True
    >>> view.close()
    """

    follows = ("version", "selection", "input_index")

    input = Int(0, help="Which model input is shown.").tag(option=True)
    feature = Int(None, allow_none=True, help="The feature counted (None: all).").tag(option=True)
    class_value = Int(None, allow_none=True, help="The class shown (None: all).").tag(option=True)
    filter = Enum(FILTERS, "all", help="Which samples the gallery shows.").tag(option=True)

    classes = Tuple(read_only=True, help="The class names the bars show.")
    counts = Tuple(read_only=True, help="Samples (pixels for masks) per class.")
    edges = Tuple(read_only=True, help="The histogram's bin edges.")
    overall = Tuple(read_only=True, help="Values per bin over every sample.")
    histogram = Tuple(read_only=True, help="Values per bin of what is shown.")
    nonfinite = Int(0, read_only=True, help="NaN and Inf values the histogram left out.")
    beyond = Int(0, read_only=True, help="Finite values (of outliers) beyond the bins.")
    outliers = Tuple(read_only=True, help="Outlier samples, most extreme first.")
    nonfinite_samples = Tuple(read_only=True, help="Samples holding NaN or Inf.")
    plotted = Tuple(read_only=True, help="The samples the scatter draws, in order.")
    shown = Tuple(read_only=True, help="The samples the gallery shows, in order.")
    filters = Tuple(read_only=True, help="The filters that can show samples now.")
    filter_note = Unicode("", read_only=True, help="Why the filter shows nothing.")
    top_tokens = Tuple(read_only=True, help="(word, count) of the most frequent tokens.")

    def __init__(self, state, **options):
        self._data_of = None  # (inputs, labels) the summaries are of
        self._summaries: dict = {}  # input position -> DataSummary
        self._truth: tuple = (None, None)  # (output, true classes)
        self._predicted = None  # predicted classes, while "misclassified" is shown
        super().__init__(state, **options)

    # -- data, kept until the data changes -------------------------------------
    def _fresh(self) -> bool:
        """Forget the summaries when ``state.set_data`` gave other data; True if so."""
        state, kept = self.state, self._data_of
        if kept is not None and state.inputs is kept[0] and state._labels is kept[1]:
            return False
        self._data_of, self._summaries = (state.inputs, state._labels), {}
        self._truth = _label_truth(state)
        return True

    def summary(self, position: int | None = None) -> D.DataSummary:
        """The :class:`~nnwidgets.compute.datastats.DataSummary` of an input (default:
        the one shown), made once per data."""
        self._fresh()
        position = self.input if position is None else position
        if position not in self._summaries:
            state = self.state
            x = state.inputs[position] if isinstance(state.inputs, list) else state.inputs
            if x is None:
                raise ValueError("this ModelState has no inputs; call set_data(inputs) first")
            output, truth = self._truth
            kind = state.input_kinds[position] if position < len(state.input_kinds) else "other"
            n = _n_classes(state, output) if output is not None else 0
            self._summaries[position] = D.DataSummary(x, kind, truth, n)
        return self._summaries[position]

    # -- options ---------------------------------------------------------------
    @validate("input")
    def _validate_input(self, proposal):
        value, names = proposal["value"], self.state.input_names
        if not 0 <= value < max(len(names), 1):
            raise TraitError(f"DataExplorer.input must be in range 0..{len(names) - 1} {names}")
        return value

    @validate("feature")
    def _validate_feature(self, proposal):
        value = proposal["value"]
        n = self.summary(self._proposed_input()).n_features
        if value is not None and not 0 <= value < n:
            raise TraitError(
                f"DataExplorer.feature must be None (all) or in range 0..{n - 1}; got {value}"
                if n
                else f"DataExplorer.feature: this input has no features to pick; got {value}"
            )
        return value

    def _proposed_input(self) -> int:
        return self._trait_values.get("input", 0)

    @validate("class_value")
    def _validate_class_value(self, proposal):
        value, n = proposal["value"], self.summary().n_classes
        if value is not None and not 0 <= value < n:
            raise TraitError(
                f"DataExplorer.class_value must be None (all) or in range 0..{n - 1}; got {value}"
                if n
                else "DataExplorer.class_value: the state has no class labels; it must be None"
            )
        return value

    @observe("input")
    def _on_input(self, change) -> None:
        if self._built:  # (a table starts on its first column)
            self.feature = 0 if self.summary(change["new"]).kind == "tabular" else None

    # -- widgets ---------------------------------------------------------------
    def build(self) -> tuple:
        from .gallery import Gallery

        self.input_picker = self._picker("input", "input")
        self.feature_picker = self._picker("feature", "feature")
        self.class_picker = self._picker("class", "class_value")
        self.filter_picker = self._picker("show", "filter")
        self.class_note, self.values_note, self.words = W.HTML(), W.HTML(), W.HTML()
        self.points_note, self.gallery_note = W.HTML(), W.HTML()
        self.bars = ClassBars(self._on_bar_click)
        self.values = ValueHistogram()
        self.points = StatsScatter(self._on_point_click)
        self.gallery = Gallery(self.state, page_size=24, columns=8)
        try:
            if self.summary().kind == "tabular" and self.feature is None:
                self.feature = 0
        except ValueError:  # no inputs: the first draw says so
            pass
        self.add_class("nnw-data-explorer")
        self.layout.width = "500px"
        pickers = W.HBox([self.input_picker, self.feature_picker, self.class_picker])
        pickers.layout.flex_flow = "row wrap"
        return (
            self.message,
            pickers,
            self.bars.figure,
            self.class_note,
            self.values.figure,
            self.values_note,
            self.words,
            self.points.figure,
            self.points_note,
            self.filter_picker,
            self.gallery_note,
            self.gallery,
        )

    def _picker(self, label: str, option: str) -> W.Dropdown:
        picker = W.Dropdown(description=label, layout=W.Layout(width="230px"))
        picker.style.description_width = "48px"
        picker.observe(lambda change: self._picked(option, change["new"]), names="value")
        return picker

    def _picked(self, option: str, value) -> None:
        if not self.from_user or value is None:
            return
        try:
            setattr(self, option, None if value == ALL else value)
        except TraitError as err:
            self.show_error(str(err))

    # -- drawing ---------------------------------------------------------------
    def render(self) -> None:
        s = self.summary()
        with self.syncing():
            self._sync_pickers(s)
        self._draw_classes(s)
        self._draw_values(s)
        self._draw_points(s)
        self._draw_gallery(s)

    def on_state(self, change) -> None:
        """New data redraws everything; new weights only the misclassified samples
        (while shown); a new selection the filter's count and its samples; a new
        input the scatter's outline."""
        name = change["name"]
        if name == "input_index":
            self.points.pick(self.state.input_index)
        elif self._fresh():
            self._drop_stale_options()
            self.draw()
        elif name == "selection" or self.filter == "misclassified":
            s = self.summary()
            with self.syncing():
                self._sync_pickers(s)
            if name == "version" or self.filter == "selection":
                self._draw_gallery(s)

    def _drop_stale_options(self) -> None:
        """New data: a class or a feature it does not have goes back to all."""
        s = self.summary()
        with self.hold_trait_notifications():
            if self.class_value is not None and self.class_value >= s.n_classes:
                self.class_value = None
            if self.feature is not None and self.feature >= s.n_features:
                self.feature = 0 if s.kind == "tabular" else None

    def _sync_pickers(self, s: D.DataSummary) -> None:
        state = self.state
        inputs = zip(state.input_names, state.input_kinds, strict=False)
        _set(self.input_picker, [(f"{n} ({k})", i) for i, (n, k) in enumerate(inputs)], self.input)
        self.input_picker.layout.display = None if len(state.input_kinds) > 1 else "none"
        features = _feature_names(state, self.input, s)
        every = "all channels" if s.kind == "image" else "all features"
        _set(self.feature_picker, [(every, ALL), *features], _or_all(self.feature))
        self.feature_picker.layout.display = None if features else "none"
        pairs = zip(self._names(s), s.counts, strict=True)
        counted = [(f"{n} ({c:,})", i) for i, (n, c) in enumerate(pairs)]
        _set(self.class_picker, [("all classes", ALL), *counted], _or_all(self.class_value))
        self.class_picker.disabled = not counted
        self.set_trait("filters", self._filters(s))
        _set(self.filter_picker, self._filter_options(s), self.filter)

    def _names(self, s: D.DataSummary) -> list[str]:
        output = self._truth[0]
        given = self.state.class_names(output) if output is not None else None
        return [class_name(i, given) for i in range(s.n_classes)]

    def _why_not_misclassified(self) -> str:
        output = self._truth[0]
        if output is None:
            return "needs labels of a classes output"
        if self.state.output_kinds[output] != "classes":
            return "needs a classes output (this one is a segmentation)"
        return ""

    def _filters(self, s: D.DataSummary) -> tuple:
        out = ["all"]
        if s.stats.outliers:
            out.append("outliers")
        if not self._why_not_misclassified():
            out.append("misclassified")
        if self.state.selection:
            out.append("selection")
        return tuple(out)

    def _filter_options(self, s: D.DataSummary) -> list:
        why = self._why_not_misclassified()
        return [
            ("all samples", "all"),
            (f"outliers ({len(s.stats.outliers):,})", "outliers"),
            (f"misclassified \u2014 {why}" if why else "misclassified", "misclassified"),
            (f"selection ({len(self.state.selection):,})", "selection"),
        ]

    def _draw_classes(self, s: D.DataSummary) -> None:
        names = tuple(self._names(s))
        with self.hold_trait_notifications():
            self.set_trait("classes", names)
            self.set_trait("counts", tuple(int(c) for c in s.counts))
        self.bars.figure.layout.display = None if names else "none"
        if not names:
            self.class_note.value = _note(
                "No class labels: give <code>labels=</code> for a classes or segmentation "
                "output to see the class balance, each class's values and the misclassified "
                "samples."
            )
            return
        what = "pixels" if s.pixels else "samples"
        self.bars.show(names, s.counts, self.class_value, f"{what} per class")
        text = f"{int(s.counts.sum()):,} {what} \u00b7 {len(names)} classes"
        if s.unknown:
            text += f" \u00b7 {s.unknown:,} {what} without a class"
        self.class_note.value = _note(text + " \u00b7 click a bar to pick its class")

    def _draw_values(self, s: D.DataSummary) -> None:
        feature = self.feature if self.feature is not None and self.feature < s.n_features else None
        overall, part = s.histograms(feature, self.class_value)
        shown = part or overall
        with self.hold_trait_notifications():
            self.set_trait("edges", tuple(float(e) for e in overall.edges))
            self.set_trait("overall", tuple(int(c) for c in overall.counts))
            self.set_trait("histogram", tuple(int(c) for c in shown.counts))
            self.set_trait("nonfinite", shown.nan + shown.inf)
            self.set_trait("beyond", shown.outside)
        what = _values_label(s, feature, self.feature_picker)
        self.values.show(overall, part, what, self._class_label(s))
        self.values_note.value = _note(_values_note(s, shown, what, len(overall.counts)))
        self._draw_words(s)

    def _class_label(self, s: D.DataSummary) -> str:
        return "" if self.class_value is None else self._names(s)[self.class_value]

    def _draw_words(self, s: D.DataSummary) -> None:
        if s.kind != "tokens":
            self.set_trait("top_tokens", ())
            self.words.value = ""
            return
        ids, counts = s.top_tokens(self.class_value)
        word = self.state.vocabulary or (lambda i: f"#{int(i)}")
        top = tuple((str(word(i)), int(c)) for i, c in zip(ids, counts, strict=True))
        self.set_trait("top_tokens", top)
        listed = " \u00b7 ".join(
            f"{html.escape(w)} <span style='opacity:.6'>{c:,}</span>" for w, c in top
        )
        self.words.value = _note(f"most frequent tokens: {listed or 'none'}")

    def _draw_points(self, s: D.DataSummary) -> None:
        stats = s.stats
        drawn = D.plotted(s.n, stats.outliers, cap=D.MAX_POINTS)
        cols = stats.columns[drawn]
        drawn = drawn[np.isfinite(cols).all(axis=1)]
        code = np.zeros(len(drawn), dtype=np.int64)
        code[np.isin(drawn, stats.outliers)] = 1
        code[stats.nonfinite_counts[drawn] > 0] = 2
        order = np.argsort(code, kind="stable")  # the outliers drawn last, on top
        drawn, code = drawn[order], code[order]
        with self.hold_trait_notifications():
            self.set_trait("outliers", stats.outliers)
            self.set_trait("nonfinite_samples", stats.nonfinite)
            self.set_trait("plotted", tuple(int(i) for i in drawn))
        clamped = self.points.show(stats.columns[drawn], code, stats.names, drawn)
        self.points.pick(self.state.input_index)
        self.points_note.value = _note(_points_note(s, len(drawn), clamped))

    def _on_point_click(self, _mark, event) -> None:
        index = ((event or {}).get("data") or {}).get("index")
        if index is not None and 0 <= index < len(self.plotted):
            self.state.input_index = int(self.plotted[index])

    def _on_bar_click(self, _mark, event) -> None:
        index = ((event or {}).get("data") or {}).get("index")
        if index is not None and 0 <= index < len(self.classes):
            self.class_value = None if self.class_value == index else int(index)

    def _draw_gallery(self, s: D.DataSummary) -> None:
        if self.filter == "misclassified" and not self._why_not_misclassified():
            self.defer(lambda: self._show(s, *self._misclassified(s)))
        else:
            self._show(s, *self._picked_rows(s))

    def _picked_rows(self, s: D.DataSummary) -> tuple:
        stats = s.stats
        if self.filter == "all":
            return s.of_class(self.class_value), "", ""
        if self.filter == "outliers":
            rows = np.array(stats.outliers, dtype=np.int64)
            why = f"no outliers (|modified z| > {stats.threshold:g})"
            return rows, why, "outliers"
        if self.filter == "selection":
            rows = np.array(self.state.selection, dtype=np.int64)
            return rows, "nothing selected (state.selection is empty)", "selection"
        return np.zeros(0, np.int64), f"misclassified {self._why_not_misclassified()}", ""

    def _misclassified(self, s: D.DataSummary) -> tuple:
        output = self._truth[0]
        try:
            predicted = Population.of(self.state).predicted(output, key=self.weights_key())
        except Exception as err:  # noqa: BLE001 - said in the gallery's note
            return np.zeros(0, np.int64), f"the predictions failed: {err}", ""
        self._predicted = predicted
        return D.misclassified(s.truth, predicted), "no misclassified samples", "misclassified"

    def _show(self, s: D.DataSummary, rows, why: str, what: str) -> None:
        if self.class_value is not None and self.filter != "all":
            rows = rows[np.isin(rows, s.of_class(self.class_value))]
        rows = tuple(int(i) for i in rows)
        names = self._names(s)
        captions = tuple(self._caption(s, i, names) for i in rows)
        captions = captions if any(captions) else ()  # (the gallery then shows labels)
        self.gallery.show(rows, captions)
        with self.hold_trait_notifications():
            self.set_trait("shown", rows)
            self.set_trait("filter_note", "" if rows else why or "no samples")
        of = f" of class {self._class_label(s)}" if self.class_value is not None else ""
        text = f"{len(rows):,} {what or 'samples'}{of}" if rows else self.filter_note + of
        self.gallery_note.value = _note(html.escape(text))

    def _caption(self, s: D.DataSummary, i: int, names: list[str]) -> str:
        if self.filter == "outliers":
            score = s.stats.score[i]
            return "NaN/Inf" if np.isinf(score) else f"z {score:.1f}"
        if self.filter == "misclassified":
            predicted = self._predicted[i]
            return f"true {names[s.truth[i]]} \u2192 {class_name(int(predicted), names)}"
        if s.truth is not None and not s.pixels:
            return names[s.truth[i]] if s.truth[i] >= 0 else "?"
        if s.kind == "tokens":
            return f"{int(s.stats.columns[i, 0])} tokens"
        return ""


# -- pure helpers ---------------------------------------------------------------
def _label_truth(state) -> tuple:
    """``(output, true classes)`` of the first classes or segmentation output with
    labels, or ``(None, None)``."""
    if state.inputs is None:
        return None, None
    population = Population.of(state)
    for output, kind in enumerate(state.output_kinds):
        truth = population.truth(output) if kind in LABELLED else None
        if truth is not None:
            return output, truth
    return None, None


def _n_classes(state, output: int) -> int:
    names = state.class_names(output) or ()
    units = state.output_units(output)
    return max(len(names), units if units > 1 else 2 * units)


def _feature_names(state, position: int, s: D.DataSummary) -> list:
    given = state.feature_names(position) or ()
    noun = "channel" if s.kind == "image" else "feature"
    return [(str(given[f]) if f < len(given) else f"{noun} {f}", f) for f in range(s.n_features)]


def _set(picker: W.Dropdown, options: list, value) -> None:
    """Give a picker its options (when they changed) and its value."""
    if list(picker.options) != options:
        picker.options = options
    values = [v for _, v in options]
    picker.value = value if value in values else (values[0] if values else None)


def _or_all(value):
    return ALL if value is None else value


def _values_label(s: D.DataSummary, feature, picker: W.Dropdown) -> str:
    if s.kind == "tokens":
        return "sequence length (tokens)"
    if feature is not None:
        return dict((v, k) for k, v in picker.options).get(feature, f"feature {feature}")
    return "pixel intensity" if s.kind == "image" else "value"


def _values_note(s: D.DataSummary, h: D.Histogram, what: str, bins: int) -> str:
    if s.kind == "tokens":
        text = f"{h.total:,} sequences \u00b7 length = tokens other than padding (id 0)"
    else:
        text = f"{h.total:,} finite values ({what}) in {bins} bins"
    if s.rows is not None and s.kind != "tokens":
        text += f" \u00b7 of {len(s.rows):,} of {s.n:,} samples (a seeded sample)"
    if h.outside:
        text += f" \u00b7 {h.outside:,} values of outlier samples beyond the bins"
    if h.nan or h.inf:
        text += " \u00b7 " + _warn(f"{h.nan:,} NaN and {h.inf:,} Inf values not counted")
    return text


def _points_note(s: D.DataSummary, drawn: int, clamped: int) -> str:
    stats = s.stats
    names = " or ".join(stats.names)
    text = (
        f"each point a sample \u00b7 <span style='color:{ORANGE}'>\u25cf</span> "
        f"{len(stats.outliers):,} outliers (|modified z| of {names} > {stats.threshold:g})"
    )
    if stats.nonfinite:
        listed = ", ".join(f"#{i}" for i in stats.nonfinite[:8])
        more = ", \u2026" if len(stats.nonfinite) > 8 else ""
        text += " \u00b7 " + _warn(
            f"{len(stats.nonfinite):,} samples hold NaN/Inf (outliers, red): {listed}{more}"
        )
    if clamped:
        text += f" \u00b7 {clamped:,} beyond the axes drawn at their edge"
    if drawn < s.n:
        text += f" \u00b7 {drawn:,} of {s.n:,} samples drawn"
        if s.n > D.MAX_POINTS:
            text += " (every outlier, then a seeded sample)"
    return text + " \u00b7 click a point to select its sample"


class ClassBars:
    """Samples per class as bars (one mark), the picked class in orange."""

    def __init__(self, on_click):
        self.x, self.y = bq.OrdinalScale(), bq.LinearScale(min=0.0)
        self.colors = bq.ColorScale(min=0.0, max=1.0, colors=[BLUE, ORANGE])
        tip = bq.Tooltip(fields=["x", "y"], labels=["class", "count"], formats=["", ","])
        self.mark = bq.Bars(
            x=[],
            y=[],
            color=[],
            scales={"x": self.x, "y": self.y, "color": self.colors},
            padding=0.15,
            tooltip=tip,
        )
        self.mark.on_element_click(on_click)
        self.x_axis = bq.Axis(scale=self.x, label="class")
        self.y_axis = bq.Axis(scale=self.y, orientation="vertical", tick_format="~s", num_ticks=4)
        self.figure = figure("", [self.mark], [self.x_axis, self.y_axis], WIDTH, "210px")

    def show(self, names, counts, picked, title: str) -> None:
        step = max(1, -(-len(names) // MAX_TICKS))
        self.x_axis.tick_values = list(names[::step])
        self.x_axis.tick_rotate = -30 if len(names) > 10 else 0
        code = np.zeros(len(names))
        if picked is not None and picked < len(names):
            code[picked] = 1.0
        with self.mark.hold_sync():
            self.mark.x, self.mark.y = np.array(names, dtype=object), counts
            self.mark.color = code
        self.figure.title = title


class ValueHistogram:
    """A histogram as bars; with a class picked, the class's bars and the overall
    distribution as a grey outline over them, each as a share of its values."""

    def __init__(self):
        self.x, self.y = bq.LinearScale(allow_padding=False), bq.LinearScale(min=0.0)
        scales = {"x": self.x, "y": self.y}
        self.front = bq.Bars(x=[0.0], y=[0.0], scales=scales, colors=[BLUE], padding=0.05)
        self.back = bq.Lines(
            x=[0.0],
            y=[0.0],
            scales=scales,
            colors=[GREY],
            stroke_width=1.5,
            interpolation="step-after",
            visible=False,
        )
        self.x_axis = bq.Axis(scale=self.x, tick_format=",.3~g")
        self.y_axis = bq.Axis(scale=self.y, orientation="vertical", tick_format="~s", num_ticks=4)
        marks = [self.front, self.back]
        self.figure = figure("", marks, [self.x_axis, self.y_axis], WIDTH, "230px")

    def show(self, overall: D.Histogram, part, what: str, class_label: str) -> None:
        x, edges = overall.centres, overall.edges
        front = overall.counts if part is None else _shares(part)
        if len(x) == 1:  # bqplot sizes bars by their spacing: pad a lone bar
            x, front = x[0] + np.array([-1.0, 0.0, 1.0]), np.array([0.0, front[0], 0.0])
        with self.x.hold_sync():
            self.x.min, self.x.max = float(edges[0]), float(edges[-1])
        with self.front.hold_sync():
            self.front.x, self.front.y = x, front
        with self.back.hold_sync():
            back = _shares(overall) if part is not None else np.zeros(len(edges) - 1)
            self.back.x, self.back.y = edges, np.append(back, back[-1])
            self.back.visible = part is not None
        self.x_axis.label = what
        self.y_axis.label = "share of values" if part is not None else "count"
        self.y_axis.tick_format = ".0%" if part is not None else "~s"
        self.figure.title = (
            f"{what}: class {class_label} (bars), all (grey line)" if part is not None else what
        )


def _clamped(columns: np.ndarray, inlier: np.ndarray) -> tuple:
    """Points, how many were moved, and each axis' ``(min, max)`` (None: bqplot's
    own). An axis over which every point spreads more than
    :data:`~nnwidgets.compute.datastats.SQUEEZE` times wider than the inliers spans
    the inliers' range padded by 5%, and the outliers beyond are moved to its edge."""
    bounds = [(None, None), (None, None)]
    if not inlier.any() or inlier.all():
        return columns, 0, tuple(bounds)
    xy = columns.copy()
    for axis in range(2):
        every, kept = columns[:, axis], columns[inlier, axis]
        lo, hi = float(kept.min()), float(kept.max())
        if every.max() - every.min() <= D.SQUEEZE * (hi - lo) or hi == lo:
            continue
        lo, hi = lo - (hi - lo) * 0.05, hi + (hi - lo) * 0.05
        xy[:, axis] = np.clip(every, lo, hi)
        bounds[axis] = (lo, hi)
    moved = int(np.any(xy != columns, axis=1).sum())
    return xy, moved, tuple(bounds)


def _shares(h: D.Histogram) -> np.ndarray:
    return h.counts / max(h.total, 1)


class StatsScatter:
    """Per-sample statistics, one point per sample (one mark): blue, orange for an
    outlier, red for a sample holding NaN or Inf; the selected sample outlined."""

    def __init__(self, on_click):
        self.x, self.y = bq.LinearScale(), bq.LinearScale()
        self.colors = bq.ColorScale(min=0.0, max=2.0, colors=[BLUE, ORANGE, RED])
        self.mark = bq.Scatter(
            x=[],
            y=[],
            color=[],
            scales={"x": self.x, "y": self.y, "color": self.colors},
            default_size=18,
            opacities=[0.8],
            stroke="white",
            stroke_width=0.5,
        )
        self.mark.interactions = {"click": "select"}
        self.mark.selected_style = {"stroke": "black", "stroke-width": 2, "opacity": 1}
        self.mark.on_element_click(on_click)
        self.x_axis = bq.Axis(scale=self.x, tick_format=",.3~g")
        self.y_axis = bq.Axis(
            scale=self.y, orientation="vertical", tick_format=",.3~g", num_ticks=5
        )
        self.figure = figure("", [self.mark], [self.x_axis, self.y_axis], WIDTH, "280px")
        self._drawn = np.zeros(0, np.int64)

    def show(self, columns: np.ndarray, code: np.ndarray, names, drawn: np.ndarray) -> int:
        """Draw the points; the axes span the points that are not outliers, and the
        outliers beyond are drawn at the axes' edge. Returns how many were."""
        self._drawn = np.asarray(drawn)
        xy, clamped, bounds = _clamped(columns, code == 0)
        with self.mark.hold_sync():
            self.mark.x, self.mark.y = xy[:, 0], xy[:, 1]
            self.mark.color = code.astype(np.float64)
        for scale, (lo, hi) in zip((self.x, self.y), bounds, strict=True):
            with scale.hold_sync():
                scale.min, scale.max = lo, hi
        self.x_axis.label, self.y_axis.label = names[0], names[1]
        self.figure.title = f"each sample's {names[0]} and {names[1]}"
        return clamped

    def pick(self, index: int) -> None:
        """Outline sample ``index`` (when it is drawn)."""
        where = np.flatnonzero(self._drawn == index)
        self.mark.selected = [int(where[0])] if where.size else None
