"""Widgets that choose: the layer picker and the input picker."""

from __future__ import annotations

import html

import ipywidgets as W
import numpy as np
from traitlets import Bool, Int, TraitError, Tuple, Unicode, validate

from ..compute import outputs as _outputs
from .base import ModelView
from .panels import status_html
from .samples import SampleDisplay, sample_picture

__all__ = ["LayerPicker", "InputPicker", "sample_picture"]

#: Inputs of a multi-input model drawn at most.
MAX_SHOWN_INPUTS = 4


class LayerPicker(ModelView):
    """Lists every layer with its type, output shape and parameter count.

    :attr:`value` is the chosen layer, kept equal to ``state.layer`` both ways: a click
    in the list sets it, and so does ``state.layer = ...`` elsewhere. A search box
    filters the list by name or type (DenseNet121 has 428 layers); the chosen layer's
    whole description shows under the list.

    Parameters
    ----------
    state : ModelState
    rows : int
        Rows of the list shown at once (2 to 100; default 14).

    Attributes
    ----------
    value : str
        The chosen layer's name; setting it sets ``state.layer``.
    query : str
        The search text: only layers whose name or type contains it (any case) are
        listed ('' lists all).
    listed : tuple of str
        The layers listed now (read-only).

    Examples
    --------
    >>> picker = LayerPicker(state, rows=8)  # doctest: +SKIP
    >>> picker.value = "dense"  # doctest: +SKIP
    >>> state.layer  # doctest: +SKIP
    'dense'
    """

    follows = ("layer", "layer_names", "version")

    rows = Int(14, min=2, max=100, help="Rows of the list shown at once.").tag(option=True)
    value = Unicode("", help="The chosen layer (kept equal to state.layer).")
    query = Unicode("", help="Search text filtering the list by name or type.").tag(option=True)
    listed = Tuple(read_only=True, help="The layers listed now.")

    def build(self) -> tuple:
        self.search = W.Text(
            placeholder="search layers by name or type",
            continuous_update=True,
            layout=W.Layout(width="98%"),
        )
        self.search.add_class("nnw-layer-search")
        W.link((self, "query"), (self.search, "value"))
        self.detail = W.HTML()
        self.detail.add_class("nnw-layer-detail")
        self.select = W.Select(
            tooltip="Layer",  # (no description: the list gets the card's whole width)
            layout=W.Layout(width="98%"),
        )
        self.select.add_class("nnw-layer-picker")
        self.select.observe(self._on_select, names="value")
        self.observe(self._on_value, names="value")
        self.value = self.state.layer
        return (self.search, self.select, self.detail, self.message)

    @validate("value")
    def _validate_value(self, proposal):
        name = proposal["value"]
        if name not in self.state.layer_names and name != self.state.layer:
            choices = ", ".join(repr(n) for n in self.state.layer_names[:20])
            raise TraitError(f"LayerPicker.value must be one of {choices}; got {name!r}")
        return name

    def _on_select(self, change) -> None:
        if self.from_user and change["new"] is not None:
            self.value = change["new"]

    def _on_value(self, change) -> None:
        self.state.layer = change["new"]
        if any(value == change["new"] for _, value in self.select.options):
            with self.syncing():
                self.select.value = change["new"]
        self._describe()

    def _describe(self) -> None:
        name = self.state.layer
        if not name:
            self.detail.value = ""
            return
        info = self.state.layer_info(name)
        text = f"{info.name} \u00b7 {info.type_name} \u00b7 {info.output_shape} \u00b7 {info.param_count:,} params"
        count = len(self.state.layer_names)
        shown = f" \u00b7 {len(self.listed)} of {count} listed" if self.query else ""
        self.detail.value = (
            f'<div style="font-size:12px;overflow-wrap:anywhere" title="{html.escape(text)}">'
            f"<b>{html.escape(text)}</b>{shown}</div>"
        )

    def on_state(self, change) -> None:
        if change["name"] == "layer":
            self.value = change["new"]  # and the list follows
        else:
            self.draw()  # new labels (output shapes known once data came)

    def render(self) -> None:
        """List the layers; the selection moves only with ``state.layer``, so that a
        redraw from a training thread never undoes a click."""
        query = self.query.strip().lower()
        infos = [self.state.layer_info(n) for n in self.state.layer_names]
        if query:
            infos = [i for i in infos if query in i.name.lower() or query in i.type_name.lower()]
        options = [(_short_label(info), info.name) for info in infos]
        self.set_trait("listed", tuple(info.name for info in infos))
        with self.syncing(), self.select.hold_sync():
            if options != [tuple(o) for o in self.select.options]:
                self.select.options = options  # (this selects the first option)
                listed = self.state.layer in self.listed
                self.select.value = self.state.layer if listed else None
            self.select.rows = min(self.rows, max(len(options), 2))
        self._describe()


def _short_label(info, width: int = 32) -> str:
    """A list entry: the whole label, with a long name cut in the middle."""
    label = info.label()
    name = info.name
    if len(name) <= width:
        return label
    half = (width - 1) // 2
    return label.replace(name, name[:half] + "\u2026" + name[-half:], 1)


class InputPicker(ModelView):
    """Shows the selected input for what it is, its label and what the model predicted;
    a slider picks.

    Images are drawn as pictures, token ids as words (with the state's vocabulary;
    padding dimmed and skipped), sequences as lines (one per feature), tabular inputs
    as labelled values; each input of a multi-input model is drawn. The caption says,
    for each output and by its kind, what was predicted.

    :attr:`value` is the chosen input, kept equal to ``state.input_index`` both ways.

    Parameters
    ----------
    state : ModelState
    picture_size : int
        Smallest side, in pixels, a small input picture is scaled up to (16 to 512).
    show_prediction : bool
        Say under the input what the model predicted for each output (default True;
        the dashboard turns it off, its Prediction card says it).

    Attributes
    ----------
    value : int
        Index of the chosen input; setting it sets ``state.input_index``.

    Examples
    --------
    >>> picker = InputPicker(state)  # doctest: +SKIP
    >>> picker.value = 3  # doctest: +SKIP
    """

    follows = ("input_index", "version")

    picture_size = Int(128, min=16, max=512, help="Smallest side of the picture, px.").tag(
        option=True
    )
    show_prediction = Bool(
        True, help="Say what the model predicted under the input (off beside a PredictionView)."
    ).tag(option=True)
    value = Int(0, help="Index of the chosen input (kept equal to state.input_index).")

    def build(self) -> tuple:
        self.slider = W.IntSlider(
            min=0,
            description="Input",
            continuous_update=False,
            style={"description_width": "48px"},
        )
        self.prev = W.Button(icon="chevron-left", tooltip="previous input")
        self.next = W.Button(icon="chevron-right", tooltip="next input")
        self.prev.layout.width = self.next.layout.width = "36px"
        self.displays = [SampleDisplay(self.picture_size)]
        self.samples = W.VBox([self.displays[0].widget])
        self.text = W.HTML()
        self.caption = W.HTML()
        self.caption.add_class("nnw-caption")
        self.slider.observe(self._on_slider, names="value")
        self.observe(self._on_value, names="value")
        self.prev.on_click(self._on_prev)
        self.next.on_click(self._on_next)
        controls = W.HBox([self.slider, self.prev, self.next])
        self._sync_slider()
        return (controls, self.samples, self.caption, self.text, self.message)

    @property
    def image(self) -> W.Image:
        """The picture of the first input (hidden when it is not an image)."""
        return self.displays[0].image

    @property
    def shown(self) -> tuple[str, ...]:
        """How each input was drawn: ``"image"``, ``"tokens"``, ``"sequence"``,
        ``"tabular"`` or ``"values"``."""
        return tuple(d.shown for d in self.displays)

    @validate("value")
    def _validate_value(self, proposal):
        index, n = proposal["value"], self.state.n_inputs
        if not (0 <= index < n or index == n == 0):
            raise TraitError(f"InputPicker.value must be in range 0..{n - 1}; got {index}")
        return index

    def _on_prev(self, _button) -> None:
        self._step(-1)

    def _on_next(self, _button) -> None:
        self._step(+1)

    def _step(self, delta: int) -> None:
        if self.state.n_inputs:
            self.value = (self.value + delta) % self.state.n_inputs

    def _on_slider(self, change) -> None:
        if self.from_user and change["new"] < self.state.n_inputs:
            self.value = change["new"]

    def _on_value(self, change) -> None:
        self.state.input_index = change["new"]

    def on_state(self, change) -> None:
        if change["name"] == "input_index":
            self._sync_slider()
        self.draw()  # new weights: a new prediction, the same slider

    def _sync_slider(self) -> None:
        state = self.state
        top = max(state.n_inputs - 1, 0)
        with self.syncing(), self.slider.hold_sync():  # never a value beyond max
            if top >= self.slider.value:
                self.slider.max, self.slider.value = top, state.input_index
            else:
                self.slider.value, self.slider.max = state.input_index, top
        if self.value != state.input_index:
            self.value = state.input_index

    def render(self) -> None:
        state = self.state
        if state.n_inputs == 0:
            self.caption.value = status_html("no inputs: pass inputs= to ModelState")
            return
        self._draw_samples()
        self.caption.value = self._caption()

    def _draw_samples(self) -> None:
        state, index = self.state, self.state.input_index
        arrays = state.inputs if isinstance(state.inputs, list) else [state.inputs]
        kinds = state.input_kinds or ("other",) * len(arrays)
        names = state.input_names
        groups = _groups(kinds, len(arrays))
        while len(self.displays) < len(groups):
            self.displays.append(SampleDisplay(self.picture_size))
        for display in self.displays:
            display.picture_size = self.picture_size
        for display, members in zip(self.displays, groups, strict=False):
            if len(members) > 1:  # tabular inputs together, one row per input
                values = np.concatenate([arrays[i][index].reshape(-1) for i in members])
                labels = [
                    _feature(names, arrays, i, j)
                    for i in members
                    for j in range(arrays[i][index].size)
                ]
                display.show(values, "tabular", names=labels)
                continue
            i = members[0]
            title = f"{names[i]} ({kinds[i]})" if len(arrays) > 1 else ""
            display.show(
                arrays[i][index],
                kinds[i],
                title=title,
                vocabulary=state.vocabulary,
                names=state.feature_names(i),
            )
        shown = self.displays[: len(groups)]
        if list(self.samples.children) != [d.widget for d in shown]:
            self.samples.children = [d.widget for d in shown]
        hidden = len(arrays) - sum(len(g) for g in groups)
        self.text.value = status_html(f"{hidden} more inputs not drawn") if hidden > 0 else ""

    def _caption(self) -> str:
        state = self.state
        rows = [f"<b>input {state.input_index}</b> of {state.n_inputs}"]
        if state.data_note:
            rows[0] += f' <span style="opacity:.7">({html.escape(state.data_note)})</span>'
        try:
            outs = state.predictions(key=self.weights_key())
        except Exception as err:  # noqa: BLE001 - the model failed on this sample
            rows.append(
                f'<span style="color:#d0021b">prediction failed: {html.escape(str(err))}</span>'
            )
            outs = []
        names = state.output_names
        for i, out in enumerate(outs if self.show_prediction else []):
            kind = state.output_kinds[i] if i < len(state.output_kinds) else "other"
            text = _outputs.summary(
                kind, out, state.label(output=i), state.class_names(i), state.output_activation(i)
            )
            head = f"{html.escape(names[i])}: " if len(outs) > 1 and i < len(names) else ""
            rows.append(head + html.escape(text))
        return '<div style="font-size:13px;padding:2px 0">' + "<br>".join(rows) + "</div>"


def _groups(kinds, n: int) -> list[list[int]]:
    """Which inputs are drawn together: every tabular input in one table, the others
    one each (at most :data:`MAX_SHOWN_INPUTS` displays)."""
    tabular = [i for i in range(n) if kinds[i] == "tabular"]
    groups: list[list[int]] = []
    for i in range(n):
        if kinds[i] == "tabular" and len(tabular) > 1:
            if i == tabular[0]:
                groups.append(tabular)
        else:
            groups.append([i])
    return groups[:MAX_SHOWN_INPUTS]


def _feature(names, arrays, i: int, j: int) -> str:
    size = arrays[i][0].size
    return names[i] if size == 1 else f"{names[i]}[{j}]"
