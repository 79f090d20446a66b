"""TrainingDynamics: gradient flow, weights over time, update ratios, dead units and a
watched input, recorded while the model trains and linked to the layer picker."""

from __future__ import annotations

import ipywidgets as W

from ...training import TrainingSession
from ...training.dynamics import DynamicsRecorder
from ..base import ModelView
from ..panels import status_html
from .flow import DeadUnits, GradientFlow, UpdateRatios
from .replay import InputReplay
from .weights import WeightDistribution


class TrainingDynamics(ModelView):
    """What happens inside a model while it trains, per layer, linked to ``state.layer``.

    Its :attr:`callback` is the Keras callback of a
    :class:`~nnwidgets.training.TrainingSession` (the live plot's, when given) to which
    it adds three probes: every K steps, on a fixed probe batch of the state's data
    (``probe_size`` samples spread over it), gradient norms, weight norms, the update
    ratio of one step, weight histograms and dead units; snapshots of one input's every
    layer; and that input's Grad-CAM (image inputs; compiled before ``fit``, in the
    background, never while it runs). K is chosen from each record's cost so that
    recording takes at most ``budget`` of the training time. Records are kept in bounded
    memory (at most ``capacity``, evenly thinned, the newest kept).

    The views: :attr:`flow` (gradient norms per layer, and over time), :attr:`ratios`
    (update ratio over time), :attr:`weights` (the selected layer's distribution over
    time, TensorBoard's bands), :attr:`dead` (dead units per layer) and :attr:`replay`
    (the watched input's outputs and Grad-CAM at each snapshot). Clicking a layer in any
    of them sets ``state.layer``; the step slider picks the step shown.

    Parameters
    ----------
    state : ModelState
        The model and data (labels are needed for gradients).
    session : TrainingSession, optional
        The session to record in (default: a new one; ``LiveTrainingPlot.session`` to
        share a live plot's).
    budget : float
        Share of training time the records may take (default 0.04: the watched input's
        snapshots and Grad-CAM maps take a quarter of it, an eighth each).
    probe_size, capacity : int
        Samples of the probe batch; records kept at most.
    warm_up : bool
        Compile the records' computations now, in the background (default); False
        leaves it to ``recorder.warm_up()`` or to the first record.

    Attributes
    ----------
    step : int or None
        The step shown (None: the newest, following training).

    Examples
    --------
    >>> dyn = TrainingDynamics(state)  # doctest: +SKIP
    >>> model.fit(x, y, epochs=5, callbacks=[dyn.callback])  # doctest: +SKIP
    >>> dyn.recorder.dynamics.log.last().gradients  # doctest: +SKIP
    {'conv2d': 0.41, 'dense': 0.12}
    """

    follows = ("layer",)

    def __init__(
        self,
        state,
        session=None,
        *,
        budget=0.04,
        probe_size=32,
        capacity=256,
        warm_up=True,
        **options,
    ):
        from ...state import ModelState

        if not isinstance(state, ModelState):
            raise TypeError(
                f"TrainingDynamics needs a ModelState, got {type(state).__name__}; "
                "make one with nnwidgets.ModelState(model, inputs, labels)"
            )
        if session is not None and not isinstance(session, TrainingSession):
            raise TypeError(f"session must be a TrainingSession, got {type(session).__name__}")
        if not 0 < float(budget) <= 1:
            raise ValueError(f"budget must be a share of training time in (0, 1], got {budget}")
        self.session = session if session is not None else TrainingSession()
        self.recorder = DynamicsRecorder(
            state,
            self.session,
            budget=budget,
            probe_size=probe_size,
            capacity=capacity,
            warm_up=warm_up,
        )
        try:
            super().__init__(state, **options)
        except Exception:
            self.recorder.close()  # no probe left behind in the session
            raise
        self.recorder.observe(self._on_recorder, names=["updates", "step"])

    @property
    def callback(self):
        """The Keras callback: ``model.fit(..., callbacks=[dyn.callback])``."""
        return self.session.callback

    def fit_in_background(self, model, *args, **kwargs):
        """``model.fit`` in a background thread, recorded here (see
        :meth:`TrainingSession.fit_in_background`)."""
        return self.session.fit_in_background(model, *args, **kwargs)

    @property
    def step(self):
        return self.recorder.step

    @step.setter
    def step(self, value) -> None:
        self.recorder.step = value

    def build(self) -> tuple:
        state, rec = self.state, self.recorder
        self.flow = GradientFlow(state, rec)
        self.ratios = UpdateRatios(state, rec)
        self.weights = WeightDistribution(state, rec)
        self.dead = DeadUnits(state, rec)
        self.replay = InputReplay(state, rec)
        self.status = W.HTML()
        self.slider = W.IntSlider(
            min=0,
            max=0,
            description="step",
            continuous_update=False,
            disabled=True,
            layout=W.Layout(width="420px"),
        )
        self.slider.add_class("nnw-step")
        self.newest = W.Checkbox(value=True, description="newest", indent=False)
        self.newest.layout.width = "90px"
        self.slider.observe(self._on_slider, names="value")
        self.newest.observe(self._on_newest, names="value")
        cards = [
            _card("Gradient flow", self.flow),
            _card("Update ratio", self.ratios),
            _card("Weights", self.weights),
            _card("Dead units", self.dead),
            _card("Watched input", self.replay),
        ]
        self.add_class("nnw-dynamics")
        top = W.HBox([self.slider, self.newest], layout=W.Layout(align_items="center"))
        grid = W.HBox(cards, layout=W.Layout(flex_flow="row wrap"))
        return (self.status, top, self.message, grid)

    def render(self) -> None:
        probe, log = self.recorder.dynamics, self.recorder.dynamics.log
        steps = log.steps()
        if not steps:
            self.status.value = status_html(
                "waiting for training: model.fit(..., callbacks=[dyn.callback]) records "
                "gradients, weights and dead units here"
            )
            return
        first = min([steps[0], *self.recorder.explanations.log.steps()[:1]])  # (a map at 0)
        with self.syncing(), self.slider.hold_sync():
            self.slider.max = steps[-1]  # (steps only grow: max first keeps min <= max)
            self.slider.min = first
            self.slider.disabled = steps[-1] == first
            self.slider.value = steps[-1] if self.step is None else self.step
            self.newest.value = self.step is None
        cost = f"{probe.cost * 1000:.0f} ms each"
        self.status.value = status_html(
            f"{len(steps)} records, steps {steps[0]}\u2013{steps[-1]}: every {probe.every} "
            f"steps ({cost}, within {probe.budget:.0%} of training time)"
        )

    def _on_recorder(self, change) -> None:
        self.draw()

    def _on_slider(self, change) -> None:
        if self.from_user:
            self.recorder.step = int(change["new"])

    def _on_newest(self, change) -> None:
        if self.from_user:
            self.recorder.step = None if change["new"] else int(self.slider.value)

    recorder = None  # (until __init__ has made it: a failed __init__ still gets close())

    def close(self) -> None:
        if not self._closed and self.recorder is not None:
            if self._built:  # (observed once built)
                self.recorder.unobserve(self._on_recorder, names=["updates", "step"])
            self.recorder.close()
        super().close()


def _card(title: str, view) -> W.VBox:
    heading = W.HTML(f'<h4 style="margin:2px 0 4px 0">{title}</h4>')
    return W.VBox(
        [heading, view],
        layout=W.Layout(border="1px solid rgba(128,128,128,.35)", padding="6px", margin="4px"),
    )
