"""The dashboard: every view laid out around one shared state."""

from __future__ import annotations

import ipywidgets as W

from ..state import ModelState
from .inspect import ActivationExplorer, WeightHeatmap
from .panels import status_html
from .pickers import InputPicker, LayerPicker
from .training import LiveTrainingPlot


class Explorer(W.VBox):
    """Layer and input pickers beside the weight and activation views, and the live plot.

    Attributes
    ----------
    state : ModelState
        The shared state; set ``state.layer`` or ``state.input_index`` to steer.
    """

    def __init__(self, state: ModelState, **kwargs):
        self.state = state
        self.layers = LayerPicker(state)
        self.input = InputPicker(state)
        self.weights = WeightHeatmap(state)
        self.activations = ActivationExplorer(state)
        self.training = LiveTrainingPlot(state, name="app.training")
        card = W.Layout(border="1px solid rgba(128,128,128,.35)", padding="6px", margin="4px")
        left = W.VBox(
            [_title("Layer"), self.layers, _title("Input"), self.input],
            layout=W.Layout(width="380px", **_copy(card)),
        )
        views = [
            W.VBox(
                [_title("Weights"), self.weights], layout=W.Layout(width="460px", **_copy(card))
            ),
            W.VBox(
                [_title("Activations"), self.activations],
                layout=W.Layout(width="460px", **_copy(card)),
            ),
        ]
        top = W.HBox([left, *views], layout=W.Layout(flex_flow="row wrap"))
        train = W.VBox([_title("Training"), self.training], layout=W.Layout(**_copy(card)))
        self.status = W.HTML()
        self.status.add_class("nnw-status")
        state.observe(self._on_status, names="status")
        self._on_status({"new": state.status})
        super().__init__([self.status, top, train], **kwargs)
        self.add_class("nnw-explorer")

    def _on_status(self, change) -> None:
        text = change["new"] or "ready: pick a layer or an input"
        self.status.value = status_html(f"\u25cf {text}", busy=bool(change["new"]))


def _title(text: str) -> W.HTML:
    return W.HTML(f'<h4 style="margin:2px 0 4px 0">{text}</h4>')


def _copy(layout: W.Layout) -> dict:
    return {k: getattr(layout, k) for k in ("border", "padding", "margin")}


def explore(model, inputs, labels=None) -> Explorer:
    """Return a dashboard for ``model`` on ``inputs``: pick a layer or an input and every
    view follows.

    Parameters
    ----------
    model : keras.Model
        Any Keras 3 model.
    inputs : array-like
        Samples the model accepts, batch axis first.
    labels : array-like, optional
        One label per sample.

    Examples
    --------
    >>> import nnwidgets as nw
    >>> x, y = nw.datasets.load_digits()
    >>> app = nw.explore(nw.datasets.demo_model(), x[:20], y[:20])
    >>> app.state.layer = app.state.layer_names[-1]
    """
    return Explorer(ModelState(model, inputs=inputs, labels=labels))
