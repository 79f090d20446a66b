"""Where the model looks, over training: the watched input's Grad-CAM every N steps.

:class:`GradCamSnapshots` is a :class:`~nnwidgets.training.Probe` beside
:class:`~nnwidgets.training.dynamics.InputSnapshots`: it explains the input that one
watches, at the Grad-CAM layer (the state's layer when it has spatial output, else the
last such layer), for the label's class (the predicted class without a label). Its
computation is compiled before training in the recorder's trace thread
(:class:`~nnwidgets.training.dynamics.Traces`), never while ``fit`` runs: a layer
selected during training is recorded from the next warm-up on, and until then the maps
stay at the layer compiled.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass

import numpy as np

from .dynamics import Recording, Traces, _one


@dataclass
class Explanation:
    """One Grad-CAM map of the watched input (float32, at the layer's resolution, not
    normalised), the layer and the class it explains, and whether that class is the
    input's ``"label"`` or the model's ``"predicted"`` one at that step."""

    cam: np.ndarray
    layer: str
    class_index: int
    source: str

    @property
    def nbytes(self) -> int:
        return int(self.cam.nbytes)


class GradCamSnapshots(Recording):
    """The watched input's Grad-CAM every N steps (N from its measured cost), kept in
    bounded memory (at most ``capacity`` maps and about ``max_bytes``, evenly thinned,
    the newest kept).

    Parameters
    ----------
    state : ModelState
    snapshots : InputSnapshots
        Whose watched input is explained (:attr:`InputSnapshots.index`).
    budget : float
        Share of training time the maps may take.
    traces : Traces, optional
        The thread compiling the computation (shared with the other probes).

    Attributes
    ----------
    layer : str or None
        The layer compiled, where maps are taken (None: none yet, see :attr:`error`).
    error : str
        Why nothing is recorded, if so.
    spent, trained : float
        Seconds the maps took while training, and seconds of training (records
        included, up to the last batch or end seen); :attr:`fraction` is their ratio.
        A map is taken only when its expected cost (the dearest of the last few) keeps
        :attr:`fraction` within ``budget``, the one at training's end too: a map dearer
        than expected can pass it by its excess, at most :attr:`dearest` seconds.
    dearest : float
        Seconds of the dearest map taken while training.

    >>> cams = GradCamSnapshots(state, snapshots, budget=0.01)  # doctest: +SKIP
    >>> cams.warm_up(); cams.join()  # doctest: +SKIP
    >>> cams.log.last().cam.shape  # doctest: +SKIP
    (8, 8)
    """

    def __init__(
        self, state, snapshots, budget=0.005, capacity=60, max_bytes=16 * 2**20, traces=None
    ):
        super().__init__(budget, capacity)
        self.state, self.snapshots = state, snapshots
        self.traces = traces if traces is not None else Traces()
        self.max_bytes, self._max_capacity = int(max_bytes), int(capacity)
        self.index = snapshots.index
        self.layer = None
        self.error = ""
        self.spent = self.trained = self.dearest = 0.0
        self._run = self._since = None
        self._compiling = None  # the layer queued for compiling
        self._costs = deque(maxlen=5)  # seconds of the last maps
        self._scored = False  # the predicted class's computation is compiled
        self._spatial = None  # the model's layers with spatial output

    # -- which layer and class ------------------------------------------------------
    def wanted(self) -> tuple[str | None, str]:
        """The Grad-CAM layer for the state's selection (``state.layer`` when it has
        spatial output, else the last such layer), or None and why not."""
        from ..attribution import spatial_layers

        if not self._image():
            return None, "Grad-CAM replay is for image inputs"
        if self._spatial is None:
            self._spatial = spatial_layers(self.state.model)
        spatial = self._spatial
        if not spatial:
            return None, (
                f"{self.state.model.name} has no layer with spatial output (a feature map): "
                "Grad-CAM needs one, so no map is recorded"
            )
        return (self.state.layer if self.state.layer in spatial else spatial[-1]), ""

    def _image(self) -> bool:
        kinds = self.state.input_kinds
        return bool(kinds) and kinds[0] == "image"

    def target(self) -> tuple[int | None, str]:
        """The class to explain: the watched input's label for a class output, else
        None (the predicted class); and which of the two it is."""
        from ..compute import outputs as O

        kinds = self.state.output_kinds
        label = self.state.label(self.index) if kinds and kinds[0] == "classes" else None
        c = None if label is None else O.label_class(label)
        if c is not None and 0 <= c < self.state.output_units(0):
            return c, "label"
        return None, "predicted"

    # -- compiling, before training --------------------------------------------------
    def warm_up(self, step: int = 0) -> None:
        """Compile the map at :meth:`wanted`'s layer in the trace thread (when it is not
        compiled yet); that first map, of the weights before training, is kept at
        ``step`` when nothing is recorded yet. Call only while no ``fit`` runs."""
        layer, why = self.wanted()
        if layer is None:
            self.error = why
            return
        if layer == self._compiling or (layer == self.layer and not self._needs_scores()):
            return
        self._compiling = layer

        def compile_map():
            try:
                shot = self.take(layer)
                start = time.perf_counter()
                self.take(layer)  # compiled now: what a map costs
                self._costs.append(time.perf_counter() - start)
            except Exception as err:  # noqa: BLE001 - no map: said in the view
                self.error = str(err)
                return
            finally:
                self._compiling = None
            self.layer, self.error = layer, ""
            if not len(self.log):
                self._add(step, shot)

        self.traces.run([compile_map])

    def join(self) -> None:
        self.traces.join()

    @property
    def compiling(self) -> bool:
        """A layer's maps are being compiled in the background."""
        return self._compiling is not None

    def take(self, layer: str) -> Explanation:
        """The watched input's Grad-CAM at ``layer`` with the weights as they are now."""
        from .. import attribution

        model, x = self.state.model, _one(self.state.inputs, self.index)
        c, source = self.target()
        if c is None:  # (compiles the scores at the first call: see record)
            c, self._scored = int(attribution.scores(model, x)[1][0]), True
        cam = attribution.grad_cam(model, x, layer, class_index=c)[0]
        return Explanation(cam.astype(np.float32), layer, c, source)

    # -- recording, while training --------------------------------------------------
    def watch(self, index: int) -> None:
        """Explain another input: the maps of the last one are dropped."""
        self.index = int(index)
        self.log.clear()

    def begin(self, session) -> None:
        """A ``fit`` starts (or resumes): its time counts from now."""
        if session.store.current_run != self._run:
            self._run, self._since = session.store.current_run, time.perf_counter()

    def record(self, session, event: str):
        if session.model is not None and session.model is not self.state.model:
            return 0.0  # the session trains another model
        self._tick(session)
        if event == "batch" and not self.log.due(session.step):
            return 0.0
        if event == "end" and self.log.steps()[-1:] == [session.step]:
            return 0.0
        if self.layer is None or self.traces.busy or self._needs_scores():
            return 0.0  # nothing compiled: never traced while fit runs
        if self.spent + max(self._costs, default=0.0) > self.budget * self.trained:
            return 0.0  # the map expected would take the maps past their budget
        if self.snapshots.index != self.index:
            self.watch(self.snapshots.index)
        start = time.perf_counter()
        try:
            shot = self.take(self.layer)
        except Exception as err:  # noqa: BLE001 - no map: said in the view
            self.error = str(err)
            return None
        cost = time.perf_counter() - start
        self._costs.append(cost)
        self.spent, self.dearest = self.spent + cost, max(self.dearest, cost)
        self._tick(session)
        self._add(session.step, shot)
        self._choose_every(session, cost)
        return None

    def _add(self, step: int, shot: Explanation) -> None:
        fits = self.max_bytes // max(shot.nbytes, 1)
        self.log.capacity = int(min(max(fits, 2), self._max_capacity))
        self.log.add(step, shot)

    def _needs_scores(self) -> bool:
        """Whether the predicted class is needed (no label) but not compiled yet."""
        return not self._scored and self.target()[0] is None

    def _tick(self, session) -> None:
        """Add the training time since the last call to :attr:`trained` (from the run's
        start when :meth:`begin` was told, else from this call)."""
        now = time.perf_counter()
        if session.store.current_run != self._run or self._since is None:
            self._run, self._since = session.store.current_run, now
        self.trained += now - self._since
        self._since = now

    @property
    def fraction(self) -> float:
        """The share of training time the maps took (0 before any)."""
        return self.spent / self.trained if self.trained > 0 else 0.0
