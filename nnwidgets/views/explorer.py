"""The dashboard: every view laid out around one shared state."""

from __future__ import annotations

import html

import ipywidgets as W

from ..state import ModelState
from .ablation import AblationView
from .activations import ActivationExplorer
from .attribution import AttributionView
from .base import ModelView
from .dynamics import TrainingDynamics
from .panels import status_html
from .pickers import InputPicker, LayerPicker
from .predictions import PredictionView
from .training.plot import LiveTrainingPlot
from .weights import WeightHeatmap


class Explorer(ModelView):
    """Layer and input pickers beside the weight and activation views; below, in tabs,
    the live plot, the training dynamics, the explanations, the projection of a
    layer's activations, the confusion matrix, the data, the model's graph and layer
    table, and (for a model with attention) its attention heads.

    Attributes
    ----------
    state : ModelState
        The shared state; set ``state.layer``, ``state.input_index`` or
        ``state.class_index`` to steer.
    layers, input, prediction, weights, activations, training, dynamics
        The views: :class:`LayerPicker`, :class:`InputPicker`, :class:`PredictionView`,
        :class:`WeightHeatmap`, :class:`ActivationExplorer`, :class:`LiveTrainingPlot`
        and :class:`TrainingDynamics` (the tabs "Curves" and "Dynamics" of
        :attr:`tabs`; both record the same training session).
    attribution, ablation
        The :class:`AttributionView` and :class:`AblationView` of the tab "Explain".
    projector, neurons
        The :class:`EmbeddingProjector` and :class:`NeuronView` of the tab
        "Projection".
    confusion, data
        The :class:`ConfusionMatrix` of the tab "Errors" and the
        :class:`DataExplorer` of the tab "Data".
    graph, table
        The :class:`ModelGraph` and :class:`LayerTable` of the tab "Model" (the graph
        and the table pick layers too).
    attention
        The :class:`AttentionView` of the tab "Attention" (only for a model with a
        ``MultiHeadAttention`` layer; None otherwise).
    runs
        The :class:`RunComparison` of the tab "Runs" (only with ``logdir``: runs
        written by other processes or machines, followed live; None otherwise).
    tabs : ipywidgets.Tab
        "Curves", "Dynamics", "Explain", "Projection", "Errors", "Data", "Model",
        for a model with attention "Attention", and with a ``logdir`` "Runs". The views of all but the first two
        are made when their tab is first shown (or first read), so that opening the
        dashboard computes no map nor projection.
    """

    follows = ("status",)

    def __init__(self, state, logdir=None, **options):
        if logdir is not None and not isinstance(logdir, str) and not hasattr(logdir, "__fspath__"):
            raise TypeError(f"logdir must be a path, got {type(logdir).__name__}")
        self.logdir = logdir
        super().__init__(state, **options)

    def build(self) -> tuple:
        state = self.state
        self.layers = LayerPicker(state)
        self.input = InputPicker(state, show_prediction=False)  # the card below says it
        self.prediction = PredictionView(state)
        self.weights = WeightHeatmap(state)
        self.activations = ActivationExplorer(state)
        self.training = LiveTrainingPlot(state, name="app.training")
        self.dynamics = _dynamics(state, self.training)
        left = W.VBox(
            [
                _title("Layer"),
                self.layers,
                _title("Input"),
                self.input,
                _title("Prediction"),
                self.prediction,
            ],
            layout=_card(width="380px"),
        )
        views = [
            W.VBox([_title("Weights"), self.weights], layout=_card(width="460px")),
            W.VBox([_title("Activations"), self.activations], layout=_card(width="460px")),
        ]
        top = W.HBox([left, *views], layout=W.Layout(flex_flow="row wrap"))
        self._lazy = _lazy_tabs(state, self.logdir)
        self._panes = {title: _pane() for title in self._lazy}
        self._made: dict = {}  # title -> the views of that tab, once made
        panes = list(self._panes.values())
        self.tabs = W.Tab(children=[self.training, self.dynamics or _no_dynamics(), *panes])
        self.tabs.titles = ("Curves", "Dynamics", *self._lazy)
        self.tabs.add_class("nnw-tabs")
        self.tabs.observe(self._on_tab, names="selected_index")
        train = W.VBox([_title("Training and the data"), self.tabs], layout=_card())
        self.status = W.HTML()
        self.status.add_class("nnw-status")
        self.add_class("nnw-explorer")
        return (self.status, self.message, top, train)

    @property
    def explain(self) -> W.HBox:
        """The box of the "Explain" tab."""
        return self._panes["Explain"]

    def _on_tab(self, change) -> None:
        """The Dynamics tab is shown: compile its records' computations (in the
        background) rather than when the dashboard opens, which may be a big model's;
        another tab: make its views (nothing is computed for a tab never opened)."""
        if change["new"] == 1 and self.dynamics is not None:
            self.dynamics.recorder.warm_up()
        elif change["new"] is not None and change["new"] >= 2:
            self._open(self._lazy[change["new"] - 2])

    def _open(self, title: str) -> tuple:
        """Make the views of a tab (once) and return them."""
        if title not in self._made and title in self._panes and not self._closed:
            views, cards = _TAB_MAKERS[title](self.state, self)
            self._made[title] = views
            self._panes[title].children = cards
        return self._made.get(title) or (None,) * _TAB_SIZES[title]

    @property
    def attribution(self) -> AttributionView | None:
        """The :class:`AttributionView` of the "Explain" tab (made on first use)."""
        return self._open("Explain")[0]

    @property
    def ablation(self) -> AblationView | None:
        """The :class:`AblationView` of the "Explain" tab (made on first use)."""
        return self._open("Explain")[1]

    @property
    def projector(self):
        """The :class:`EmbeddingProjector` of the "Projection" tab (made on first use)."""
        return self._open("Projection")[0]

    @property
    def neurons(self):
        """The :class:`NeuronView` of the "Projection" tab (made on first use)."""
        return self._open("Projection")[1]

    @property
    def confusion(self):
        """The :class:`ConfusionMatrix` of the "Errors" tab (made on first use)."""
        return self._open("Errors")[0]

    @property
    def data(self):
        """The :class:`DataExplorer` of the "Data" tab (made on first use)."""
        return self._open("Data")[0]

    @property
    def graph(self):
        """The :class:`ModelGraph` of the "Model" tab (made on first use)."""
        return self._open("Model")[0]

    @property
    def table(self):
        """The :class:`LayerTable` of the "Model" tab (made on first use)."""
        return self._open("Model")[1]

    @property
    def attention(self):
        """The :class:`AttentionView` of the "Attention" tab (made on first use), or
        None when the model has no attention layer (and no such tab)."""
        return self._open("Attention")[0]

    @property
    def runs(self):
        """The :class:`RunComparison` of the "Runs" tab (made, and following its folder,
        from first use), or None without a ``logdir``."""
        return self._open("Runs")[0]

    def render(self) -> None:
        note = f" ({self.state.data_note})" if self.state.data_note else ""
        text = self.state.status or f"ready: pick a layer or an input{note}"
        self.status.value = status_html(f"\u25cf {text}", busy=bool(self.state.status))


def _explain_tab(state, app) -> tuple:
    views = (AttributionView(state), AblationView(state))
    return views, [
        W.VBox([_title("Attribution"), views[0]], layout=_card(width="520px")),
        W.VBox([_title("Units switched off"), views[1]], layout=_card(width="420px")),
    ]


def _projection_tab(state, app) -> tuple:
    from .neurons import NeuronView
    from .projector import EmbeddingProjector

    views = (EmbeddingProjector(state), NeuronView(state))
    return views, [
        W.VBox(
            [_title("How the layer organises the inputs"), views[0]], layout=_card(width="470px")
        ),
        W.VBox([_title("What one unit responds to"), views[1]], layout=_card(width="470px")),
    ]


def _errors_tab(state, app) -> tuple:
    from .confusion import ConfusionMatrix

    views = (ConfusionMatrix(state),)
    return views, [W.VBox([_title("Confusion matrix"), views[0]], layout=_card(width="470px"))]


def _data_tab(state, app) -> tuple:
    from .data_explorer import DataExplorer

    views = (DataExplorer(state),)
    return views, [W.VBox([_title("The data"), views[0]], layout=_card(width="540px"))]


def _model_tab(state, app) -> tuple:
    from .layer_table import LayerTable
    from .model_graph import ModelGraph

    recorder = app.dynamics.recorder if app.dynamics is not None else None
    views = (ModelGraph(state), LayerTable(state, recorder=recorder, height=520))
    return views, [
        W.VBox([_title("The model's layers: click one"), views[0]], layout=_card(width="500px")),
        W.VBox([_title("Every layer"), views[1]], layout=_card(flex="1 0 720px")),
    ]


def _attention_tab(state, app) -> tuple:
    from .attention import AttentionView

    views = (AttentionView(state),)
    return views, [W.VBox([_title("What each head attends to"), views[0]], layout=_card())]


def _runs_tab(state, app) -> tuple:
    from .runs import RunComparison

    views = (RunComparison(app.logdir),)
    title = "Runs written to " + html.escape(str(app.logdir))
    return views, [W.VBox([_title(title), views[0]], layout=_card(width="100%"))]


#: Tabs whose views are made when first shown: title -> maker(state, app) -> (views, cards).
_TAB_MAKERS = {
    "Explain": _explain_tab,
    "Projection": _projection_tab,
    "Errors": _errors_tab,
    "Data": _data_tab,
    "Model": _model_tab,
    "Attention": _attention_tab,
    "Runs": _runs_tab,
}
LAZY_TABS = tuple(_TAB_MAKERS)
_TAB_SIZES = {
    "Explain": 2, "Projection": 2, "Errors": 1, "Data": 1, "Model": 2, "Attention": 1, "Runs": 1,
}  # fmt: skip


def _lazy_tabs(state, logdir=None) -> tuple:
    """The lazy tabs of this model: "Attention" only when it has an attention layer,
    "Runs" only with a log folder."""
    from ..attention import attention_layers

    has = {"Attention": bool(attention_layers(state.model)), "Runs": logdir is not None}
    return tuple(t for t in LAZY_TABS if has.get(t, True))


def _pane() -> W.HBox:
    return W.HBox([W.HTML(status_html("opening\u2026"))], layout=W.Layout(flex_flow="row wrap"))


def _dynamics(state, plot):
    """The training dynamics, recorded in the live plot's session (None without data)."""
    if state.n_inputs == 0:
        return None
    return TrainingDynamics(state, plot.session, warm_up=False)


def _no_dynamics() -> W.HTML:
    return W.HTML(status_html("training dynamics need inputs: explore(model, x, y)"))


def _title(text: str) -> W.HTML:
    return W.HTML(f'<h4 style="margin:2px 0 4px 0">{text}</h4>')


def _card(**layout) -> W.Layout:
    return W.Layout(border="1px solid rgba(128,128,128,.35)", padding="6px", margin="4px", **layout)


def explore(model, inputs, labels=None, logdir=None, **options) -> Explorer:
    """Return a dashboard for ``model`` on ``inputs``: pick a layer or an input and every
    view follows.

    Parameters
    ----------
    model : keras.Model
        Any Keras 3 model.
    inputs : array-like
        Samples the model accepts, batch axis first.
    labels : array-like, list or dict, optional
        One label per sample (a dict keyed by output name for several outputs).
    logdir : str or path, optional
        A TensorBoard log folder: a "Runs" tab follows and compares the runs written
        there by other processes or machines (:class:`RunComparison`).
    **options
        Passed to :class:`~nnwidgets.state.ModelState`: ``input_kinds``,
        ``output_kinds``, ``class_names``, ``vocabulary``, ``max_samples``.

    Examples
    --------
    >>> import nnwidgets as nw
    >>> x, y = nw.datasets.load_digits()
    >>> app = nw.explore(nw.datasets.demo_model(), x[:20], y[:20])
    >>> app.state.layer = app.state.layer_names[-1]
    """
    try:
        state = ModelState(model, inputs=inputs, labels=labels, **options)
        return Explorer(state, logdir=logdir)
    except Exception as err:
        show_error(err, "explore() could not open this model")
        raise


def show_error(err: Exception, what: str) -> None:
    """Put the package's own message on the page when Voila runs the notebook (Voila
    replaces a cell's error output with a generic line; a displayed output stays).
    In a notebook the traceback already says it, so nothing more is shown."""
    import os

    if not any(key.startswith("VOILA_") for key in os.environ):
        return
    from IPython.display import HTML, display

    text = html.escape(f"{type(err).__name__}: {err}")
    display(
        HTML(
            '<div class="nnw-error" style="border:1px solid #d0021b;border-radius:4px;'
            'padding:8px 12px;margin:8px 0;color:#d0021b;font-size:14px">'
            f"<b>{html.escape(what)}</b><br>{text}</div>"
        )
    )
