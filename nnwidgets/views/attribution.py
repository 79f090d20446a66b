"""AttributionView: which parts of the selected input made the model say what it said."""

from __future__ import annotations

import html

import ipywidgets as W
import numpy as np
from traitlets import Bool, Enum, Float, Int, Tuple, Unicode

from ..compute import explain as X
from ..compute import outputs as O
from ..compute import overlay as V
from .attribution_parts import (
    FeaturesPanel,
    OverlayPanel,
    StripPanel,
    TokensPanel,
    Worker,
    display,
    dropdown,
    set_options,
)
from .base import ModelView
from .panels import ellipsize, status_html
from .samples import sample_picture

#: Seconds: a map whose method and layer took less the last time is computed on a
#: click, in the kernel; the first of each (it compiles) and slower ones in a thread.
QUICK = 0.25
#: Methods whose maps are signed (drawn blue against, red for).
DIVERGING = ("integrated_gradients", "gradient_x_embedding", "occlusion")
#: What a method that does not work falls back to: the first of these that works.
FALLBACKS = ("saliency", "gradient_x_embedding", "grad_cam", "occlusion")
ZERO = (
    "the map is zero everywhere: nothing here raises the score, or the score does not "
    "depend on it (no gradient flows back to it)"
)


class AttributionView(ModelView):
    """Which parts of the selected input speak for (or against) a class: Grad-CAM,
    Grad-CAM++, saliency, SmoothGrad, integrated gradients or occlusion; for token
    inputs gradient × embedding, integrated gradients over the embedding, occlusion.

    Images get the map overlaid (resized bilinearly, blended at :attr:`opacity`);
    tokens are coloured red (for) or blue (against), numbers in each word's tooltip;
    sequences get a heat strip under their lines; tabular inputs a bar per feature.
    Grad-CAM uses ``state.layer`` when it has spatial output, else the last layer that
    has (and says so). The class is ``state.class_index`` (None: the predicted one),
    chosen among the top classes. Only the selected input is computed, and maps are
    cached per method, layer, input, class, weights and options; the first map of a
    method (it compiles) and slow ones are computed in a background thread, the view
    saying "computing…" (:meth:`wait` waits). What cannot be explained is said in the
    view, never raised; a method that does not work falls back to one that does.

    Parameters
    ----------
    state : ModelState
    method : str
        One of :data:`nnwidgets.compute.explain.METHODS` (default ``"grad_cam"``;
        ``"gradient_x_embedding"`` for token inputs).
    opacity : float
        Opacity of the map over an image, 0 to 1 (default 0.5); a change blends again,
        computing no map.
    smooth_samples, steps : int
        SmoothGrad's noisy copies (default 20); integrated gradients' steps (50).

    Attributes
    ----------
    methods : tuple of str
        The methods that work for this model and input (read-only).
    layer_used : str
        The layer Grad-CAM uses ('' for other methods; read-only).
    explained_class : int or None
        The class (output unit) explained (read-only).
    attribution : ndarray or None
        The map shown, at the method's own resolution (read-only).
    busy : bool
        A map is being computed in the background (read-only).

    Examples
    --------
    >>> import nnwidgets as nw
    >>> x, y = nw.datasets.load_digits(20)
    >>> state = nw.ModelState(nw.datasets.demo_model(), x, y)
    >>> view = nw.AttributionView(state, method="saliency")
    >>> view.wait(), view.attribution.shape, view.layer_used
    (True, (8, 8), '')
    >>> view.method = "grad_cam"  # doctest: +SKIP
    >>> state.layer = "conv2"; view.wait(); view.layer_used  # doctest: +SKIP
    'conv2'
    """

    follows = ("layer", "input_index", "class_index", "version", "input_kinds", "output_kinds")

    method = Enum(X.METHODS, "grad_cam", help="The attribution method.").tag(option=True)
    opacity = Float(0.5, min=0.0, max=1.0, help="Opacity of the map over an image.").tag(
        option=True
    )
    smooth_samples = Int(20, min=1, max=1000, help="SmoothGrad's noisy copies.").tag(option=True)
    steps = Int(50, min=2, max=2000, help="Integrated gradients' steps.").tag(option=True)
    methods = Tuple(read_only=True, help="The methods that work for this model and input.")
    layer_used = Unicode("", read_only=True, help="Grad-CAM's layer ('' for other methods).")
    explained_class = Int(None, allow_none=True, read_only=True, help="The class explained.")
    busy = Bool(False, read_only=True, help="A map is being computed in the background.")

    def __init__(self, state, **options):
        self._method_given = "method" in options  # (else tokens start with their own)
        super().__init__(state, **options)

    def build(self) -> tuple:
        self.maps = X.Maps(self.state.model)
        self._shown = self._wanted = None  # the request (and map) drawn, and asked for
        self._subject = (None, None)
        self._quiet, self._fallback = False, ""
        self._worker = Worker(self._compute_in_background, self._on_idle)
        self.method_picker = dropdown("method", "nnw-method", "230px", self._on_method_picker)
        self.class_picker = dropdown("class", "nnw-class", "300px", self._on_class_picker)
        self.opacity_slider = W.FloatSlider(
            min=0.0, max=1.0, step=0.05, description="opacity", readout_format=".2f"
        )
        self.opacity_slider.style.description_width = "56px"
        self.opacity_slider.add_class("nnw-opacity")
        W.link((self, "opacity"), (self.opacity_slider, "value"))
        self.explained, self.notes, self.progress = W.HTML(), W.HTML(), W.HTML()
        self.explained.add_class("nnw-explained")
        self.picture, self.sequence = OverlayPanel(), StripPanel()
        self.tokens, self.features = TokensPanel(), FeaturesPanel()
        self.colorbar = W.HTML()
        self._parts = (self.picture, self.sequence, self.tokens, self.features)
        self.add_class("nnw-attribution")
        controls = W.HBox(
            [self.method_picker, self.class_picker, self.opacity_slider],
            layout=W.Layout(flex_flow="row wrap", align_items="center"),
        )
        texts = (self.explained, self.notes, self.message, self.progress)
        return (controls, *texts, *(p.widget for p in self._parts), self.colorbar)

    @property
    def attribution(self) -> np.ndarray | None:
        """The map shown, at the method's own resolution (None before the first)."""
        return None if self._shown is None else self._shown[1]

    def wait(self, timeout: float | None = 120.0) -> bool:
        """Wait until no map is computed in the background (and the last is drawn);
        return whether none is."""
        return self._worker.wait(timeout)

    # -- the controls ------------------------------------------------------------
    def _on_method_picker(self, change) -> None:
        if self.from_user and change["new"]:
            self.method = change["new"]

    def _on_class_picker(self, change) -> None:
        if self.from_user and change["new"] is not None:
            self.state.class_index = None if change["new"] < 0 else int(change["new"])

    def _option_changed(self, change) -> None:
        if change["name"] == "opacity":  # blend the map shown again, nothing computed
            if self._built and not self._closed and self._shown is not None:
                with self.state.lock:
                    if self._shown[0].kind == "image":
                        self._blend()
        elif not self._quiet:
            if change["name"] == "method":
                self._fallback = ""  # a person chose: no fallback to explain
            super()._option_changed(change)

    # -- what to explain ---------------------------------------------------------
    def render(self) -> None:
        state = self.state
        if state.n_inputs == 0:
            self._show_nothing()
            raise ValueError("no inputs: pass inputs= to ModelState")
        key, index = self.weights_key(), state.input_index
        sample = X.one_sample(state.inputs, index)
        subject = self._subject_of(sample)
        self.set_trait("methods", subject.methods())
        notes: list[str] = []
        method = self._usable_method(subject, notes)
        layer, note = subject.layer(state.layer) if method in X.GRAD_CAM else ("", "")
        self.set_trait("layer_used", layer)
        notes += [note] if note else []
        if subject.n_inputs > 1:
            notes.append(f"the model has {subject.n_inputs} inputs: the map explains input 0")
        out = state.prediction(key=key)
        class_index = self._class_index(notes)
        self._sync_controls(out, class_index)
        options = (self.smooth_samples, self.steps)
        request = X.Request(
            method, layer, index, class_index, key, options, _ablation(state, key),
            subject.kind, sample,
        )  # fmt: skip
        self._wanted = request
        self.set_trait("explained_class", X.predicted(out) if class_index is None else class_index)
        self._describe(request, notes)
        found = self.maps.get(request)
        if found is None and self.maps.took(request) < QUICK:
            found = self.maps.compute(request)
        if found is not None:
            self._show(request, found)
            return
        text = f"computing {X.LABELS[method]} for input {index}\u2026"
        self.progress.value = status_html(text, busy=True)
        self.set_trait("busy", True)
        self._worker.submit(request)

    def _subject_of(self, sample) -> X.Subject:
        """What the model offers to explain (made again only when the kinds change)."""
        key = (self.state.input_kinds, len(sample))
        if self._subject[0] != key:
            kind = (self.state.input_kinds or ("other",))[0]
            self._subject = (key, X.Subject(self.state.model, kind, sample))
        return self._subject[1]

    def _usable_method(self, subject: X.Subject, notes: list) -> str:
        """:attr:`method`, or (set quietly) one that works, saying why."""
        works, method = subject.methods(), self.method
        if not subject.spatial:
            notes.append(f"Grad-CAM is not offered: {subject.why_not('grad_cam')}")
        if not (subject.float_input or subject.embedding):
            notes.append(f"gradient methods are not offered: {subject.why_not('saliency')}")
        if not self._method_given and subject.kind == "tokens" and "gradient_x_embedding" in works:
            method = "gradient_x_embedding"  # tokens start with their own method
        self._method_given = True
        why = subject.why_not(method)
        if why:
            fallback = next((m for m in FALLBACKS if m in works), works[0])
            said = any(why in note for note in notes)  # (a note above says why)
            because = "" if said else f": {why}"
            self._fallback = (
                f"{X.LABELS[method]} does not work here{because}; showing {X.LABELS[fallback]}"
            )
            method = fallback
        if method != self.method:
            self._quiet = True
            try:
                self.method = method
            finally:
                self._quiet = False
        if self._fallback:
            notes.append(self._fallback)
        return method

    def _class_index(self, notes: list) -> int | None:
        """``state.class_index``, or None (with a note) when the output has no such unit."""
        c, units = self.state.class_index, self.state.output_units()
        if c is not None and units and not 0 <= c < units:
            notes.append(
                f"class {c} is out of range (output 0 has {units} units: 0..{units - 1}); "
                "explaining the predicted class"
            )
            return None
        return c

    def _sync_controls(self, out, class_index) -> None:
        state = self.state
        kind, names, act = state.output_kinds[0], state.class_names(), state.output_activation()
        picks = X.choices(kind, out, names, act)
        options = [(f"predicted: {X.label(X.predicted(out), kind, out, names, act)}", -1)]
        options += [(text, i) for i, text in picks]
        if class_index is not None and class_index not in [i for i, _ in picks]:
            options.append((X.label(class_index, kind, out, names, act), class_index))
        methods = [(X.LABELS[m], m) for m in self.methods]
        with self.syncing():
            set_options(self.method_picker, methods, self.method)
            set_options(self.class_picker, options, -1 if class_index is None else class_index)

    def _describe(self, request, notes: list) -> None:
        """The line saying what is explained, and the notes (NaN in red)."""
        state = self.state
        at = f" at <b>{html.escape(request.layer)}</b>" if request.layer else ""
        whose = "predicted" if request.class_index is None else "chosen"
        whose = "" if state.output_kinds[0] == "regression" else f" ({whose})"
        about = X.what(
            state.output_kinds[0], self.explained_class, state.class_names(), state.output_units()
        )
        self.explained.value = (
            f'<div style="font-size:13px"><b>{X.LABELS[request.method]}</b>{at} \u00b7 '
            f"{html.escape(about)}{whose} \u00b7 input {request.index}</div>"
        )
        rows = [html.escape(n) for n in notes]
        bad = X.bad_values(request.sample)
        if bad:
            rows.append(
                f'<b style="color:#d0021b">\u26a0 input {request.index} holds {bad} NaN/Inf '
                "values: the map is drawn, but may mean nothing (magenta: NaN)</b>"
            )
        text = "<br>".join(rows)
        self.notes.value = f'<div class="nnw-notes" style="font-size:12px">{text}</div>' * bool(
            rows
        )

    # -- computing in the background -----------------------------------------------
    def _compute_in_background(self, request) -> None:
        try:
            a, error = self.maps.compute(request), ""
        except Exception as err:  # noqa: BLE001 - shown, never raised
            a, error = None, str(err) or type(err).__name__
        if self._closed:
            return
        with self.state.lock:  # (not a drawing block: that would record the input)
            wanted = self._wanted
            if self._closed or wanted is None or wanted.selection != request.selection:
                return  # another selection came meanwhile: its own map is drawn
            shown = self._shown[0] if self._shown else None
            if request.key != wanted.key and shown is not None and shown.key == wanted.key:
                return  # the map wanted now (newer weights or units) is already drawn
            try:
                if error:
                    raise ValueError(error)
                self._show(request, a)
            except Exception as err:  # noqa: BLE001 - shown, never raised
                self.progress.value = ""
                self.show_error(str(err))
            else:
                if self.error:
                    self.clear_error()

    def _on_idle(self) -> None:
        if not self._closed:
            self.set_trait("busy", False)

    # -- pictures ----------------------------------------------------------------
    def _show(self, request, a: np.ndarray) -> None:
        self._shown = (request, a)
        values = np.asarray(a, dtype=np.float64)
        zero = values.size and np.all(values == 0)
        self.progress.value = status_html(ZERO, busy=True) if zero else ""
        draw = {"image": self._blend, "tokens": self._tokens, "sequence": self._lines}
        drawn = draw.get(request.kind, self._features)()
        for part in self._parts:
            display(part.widget, part is drawn)
        display(self.colorbar, drawn in (self.picture, self.sequence))
        display(self.opacity_slider, drawn is self.picture)

    def _caption(self, diverging: bool) -> str:
        c, names = self.explained_class, self.state.class_names()
        who = O.class_name(c, names) if names else f"class {c}"
        return f"red: for {who}, blue: against" if diverging else f"brighter: more for {who}"

    def _blend(self):
        """The map over the input picture at :attr:`opacity` (no map computed)."""
        request, a = self._shown
        picture, plane = sample_picture(X.first(request.sample)[0]), X.plane(a)
        if picture is None or plane.ndim != 2:
            return self._features()
        diverging = request.method in DIVERGING
        rgb, lo, hi, cmap = V.overlay(picture, plane, self.opacity, diverging)
        at = f" at {request.layer}" if request.layer else ""
        self.picture.show(rgb, ellipsize(X.LABELS[request.method] + at, 40))
        self.colorbar.value = V.colorbar_html(cmap, lo, hi, self._caption(diverging))
        return self.picture

    def _tokens(self):
        request, a = self._shown
        ids = np.asarray(X.first(request.sample)[0]).reshape(-1)
        self.tokens.show(ids, X.per_step(a, ids.size), self.state.vocabulary)
        return self.tokens

    def _lines(self):
        request, a = self._shown
        x = np.asarray(X.first(request.sample)[0], dtype=np.float64)
        x = x[:, None] if x.ndim == 1 else x.reshape(x.shape[0], -1)
        diverging = request.method in DIVERGING
        values = X.per_step(a, x.shape[0])
        lo, hi, cmap = self.sequence.show(x, values, diverging, X.LABELS[request.method])
        caption = "per step (features summed): " + self._caption(diverging)
        self.colorbar.value = V.colorbar_html(cmap, lo, hi, caption)
        return self.sequence

    def _features(self):
        request, a = self._shown
        values = np.asarray(a, dtype=np.float64).reshape(-1)
        title = f"{X.LABELS[request.method]} per feature"
        self.features.show(values, self.state.feature_names(0), title)
        return self.features

    def _show_nothing(self) -> None:
        self._shown = None
        for widget in (*(p.widget for p in self._parts), self.colorbar):
            display(widget, False)

    def close(self) -> None:
        self._wanted = None
        if self._built:
            self._worker.cancel()
        super().close()


def _ablation(state, key) -> dict:
    """The units switched off for the weights ``key``."""
    at = getattr(state, "ablation_at", None)
    found = at(key) if at is not None else getattr(state, "ablation", {})
    return dict(found or {})
