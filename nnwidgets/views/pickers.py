"""Widgets that choose: the layer picker and the input picker."""

from __future__ import annotations

import ipywidgets as W
import numpy as np
from traitlets import Int, TraitError, Unicode, validate

from ..compute import data as _data
from ..compute.imaging import encode_png, finite_range, to_rgb, upscale_nearest
from .base import ModelView
from .panels import status_html


class LayerPicker(ModelView):
    """Lists every layer with its type, output shape and parameter count.

    :attr:`value` is the chosen layer, kept equal to ``state.layer`` both ways: a click
    in the list sets it, and so does ``state.layer = ...`` elsewhere.

    Parameters
    ----------
    state : ModelState
    rows : int
        Rows of the list shown at once (2 to 100; default 14).

    Attributes
    ----------
    value : str
        The chosen layer's name; setting it sets ``state.layer``.

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

    def build(self) -> tuple:
        self.select = W.Select(
            description="Layer",
            layout=W.Layout(width="98%"),
            style={"description_width": "48px"},
        )
        self.select.add_class("nnw-layer-picker")
        self.select.observe(self._on_select, names="value")
        self.observe(self._on_value, names="value")
        self.value = self.state.layer
        return (self.select, self.message)

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

    def on_state(self, change) -> None:
        if change["name"] == "layer":
            self.value = change["new"]  # and the list follows
        else:
            self.draw()  # new labels (output shapes known once data came)

    def render(self) -> None:
        """List the layers; the selection moves only with ``state.layer``, so that a
        redraw from a training thread never undoes a click."""
        options = [(self.state.layer_info(n).label(), n) for n in self.state.layer_names]
        with self.syncing(), self.select.hold_sync():
            if options != [tuple(o) for o in self.select.options]:
                self.select.options = options  # (this selects the first option)
                self.select.value = self.state.layer or None
            self.select.rows = min(self.rows, max(len(options), 2))


def sample_picture(x: np.ndarray) -> np.ndarray | None:
    """An input sample as an ``(h, w)`` or ``(h, w, 3)`` uint8 picture.

    2-D samples (grey images, ``steps × features``) and ``(h, w, 1|3|4)`` images are
    drawn directly; vectors as a one-row strip; token ids (integer vectors) give None.
    """
    x = np.asarray(x)
    if x.ndim == 0:
        x = x.reshape(1)
    if x.ndim == 3 and x.shape[-1] in (1, 3, 4):
        x = x[..., 0] if x.shape[-1] == 1 else x[..., :3]
    elif x.ndim == 1:
        if x.dtype.kind in "iu" and x.size > 1:
            return None
        x = x.reshape(1, -1)
    elif x.ndim != 2:
        x = x.reshape(x.shape[0], -1)
    if x.dtype == np.uint8:
        lo, hi = 0.0, 255.0
    else:
        lo, hi = finite_range(x)
    if x.ndim == 3:
        with np.errstate(all="ignore"):
            scaled = np.clip((np.nan_to_num(x.astype(np.float64)) - lo) / (hi - lo) * 255, 0, 255)
        return scaled.astype(np.uint8)
    return to_rgb(x, lo, hi, "gray")


class InputPicker(ModelView):
    """Shows the selected input, its label and the model's prediction; a slider picks.

    :attr:`value` is the chosen input, kept equal to ``state.input_index`` both ways.

    Parameters
    ----------
    state : ModelState
    picture_size : int
        Smallest side, in pixels, a small input picture is scaled up to (16 to 512).

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
        self.image = W.Image(
            format="png",  # a border, so that a dark digit stays framed on a dark page
            layout=W.Layout(width="160px", height="160px", border="1px solid #888"),
        )
        self.image.add_class("nnw-input-image")
        self.text = W.HTML()
        self.caption = W.HTML()
        self.slider.observe(self._on_slider, names="value")
        self.observe(self._on_value, names="value")
        self.prev.on_click(self._on_prev)
        self.next.on_click(self._on_next)
        controls = W.HBox([self.slider, self.prev, self.next])
        self._sync_slider()
        return (controls, W.HBox([self.image, self.caption]), self.text, self.message)

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
        x = state.inputs[0] if isinstance(state.inputs, list) else state.inputs
        sample = x[state.input_index]
        pic = sample_picture(sample)
        if pic is None:
            self.image.layout.display = "none"
            tokens = " ".join(str(int(t)) for t in sample[:64])
            self.text.value = f'<code style="font-size:11px">{tokens}</code>'
        else:
            self.image.layout.display = None
            self.image.value = encode_png(upscale_nearest(pic, self.picture_size))
            self.text.value = ""
        self.caption.value = self._caption(sample)

    def _caption(self, sample) -> str:
        state = self.state
        rows = [f"<b>input {state.input_index}</b> of {state.n_inputs}"]
        if state.labels is not None:
            rows.append(f"label: <b>{_data.label_text(state.labels[state.input_index])}</b>")
        try:
            predicted = state.prediction(key=self.weights_key())
            rows.append(f"predicted: <b>{_data.prediction_text(predicted)}</b>")
        except Exception as err:  # noqa: BLE001 - the model failed on this sample
            rows.append(f'<span style="color:#d0021b">prediction failed: {err}</span>')
        bad = np.sum(~np.isfinite(np.asarray(sample, dtype=np.float64)))
        if bad:
            rows.append(f'<span style="color:#d0021b">\u26a0 {bad} NaN/Inf values</span>')
        return '<div style="font-size:13px;padding-left:8px">' + "<br>".join(rows) + "</div>"
