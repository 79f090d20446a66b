"""The view contract: what every nnwidgets view does, in one base class.

A view

1. is a widget built from a source of state (a :class:`~nnwidgets.state.ModelState`
   for a :class:`ModelView`, a :class:`~nnwidgets.training.TrainingSession` for the
   live plot) plus *options*: traits tagged
   ``option=True``, validated (a bad value raises ``TraitError`` naming the option),
   documented with ``help=`` and observable; changing one redraws;
2. follows only the traits it names (:attr:`View.follows`), through the state's
   :class:`~nnwidgets.views.scheduler.DrawScheduler`, and stops in :meth:`View.close`;
3. computes with pure, cached functions (``nnwidgets.compute``) and sets widget traits
   only in :meth:`View.render`, which runs inside the scheduler's drawing block
   (``defer`` what can wait);
4. shows its own errors (:attr:`View.error` and its ``message`` line), never raising
   into the kernel;
5. exposes what it shows as public traits (a picker's ``value``, a view's ``channel``)
   that a user can ``observe`` or ``link``.

>>> import keras, numpy as np
>>> from nnwidgets import ModelState, ActivationExplorer
>>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, name="d")])
>>> view = ActivationExplorer(ModelState(model, np.ones((2, 3))))
>>> view.shape, view.error
((2,), '')
>>> view.close()
"""

from __future__ import annotations

import threading
from contextlib import contextmanager, nullcontext

import ipywidgets as W
from traitlets import Unicode

from .panels import close_tree, status_html
from .scheduler import DrawScheduler


class View(W.VBox):
    """Base class of every view (see the module docstring for the contract).

    ``source`` is what the view follows (a ``HasTraits``). Subclasses set
    :attr:`follows`, build their widgets in :meth:`build` (returning the children) and
    draw in :meth:`render`.

    Attributes
    ----------
    error : str
        The error shown by the last draw ('' when it drew; read-only).
    """

    #: Names of the state traits whose changes redraw this view.
    follows: tuple[str, ...] = ()
    # until __init__ has run (a failed __init__ still gets close() from __del__)
    _built = _closed = False
    scheduler = None
    source = None

    error = Unicode("", read_only=True, help="The error shown by the last draw ('' if none).")

    def __init__(self, source, **options):
        self._built = False
        self._closed = False
        self.source = source
        self.scheduler = self._scheduler_of(source)
        super().__init__(**options)
        self.message = W.HTML()
        self.message.add_class("nnw-message")
        self.children = self.build()
        self._built = True
        self._follow()
        options = [name for name in self.trait_names(option=True)]
        if options:  # (traitlets reads names=[] as every trait)
            self.observe(self._option_changed, names=options)
        self.draw()

    def _scheduler_of(self, source):
        """No scheduler: the view observes its source directly."""
        return None

    # -- what subclasses write ---------------------------------------------
    def build(self) -> tuple:
        """Make the view's widgets; return the children (include ``self.message``)."""
        return (self.message,)

    def render(self) -> None:
        """Draw from the state (runs inside the scheduler's drawing block)."""

    def on_state(self, change) -> None:
        """A followed state trait changed: redraw (override to do less)."""
        self.draw()

    # -- the contract ------------------------------------------------------
    def _follow(self) -> None:
        if self.scheduler is not None:
            self.scheduler.subscribe(self.follows, self._on_followed)
        elif self.follows:
            self.source.observe(self._on_followed, names=list(self.follows))

    def _unfollow(self) -> None:
        if self.scheduler is not None:
            self.scheduler.unsubscribe(self.follows, self._on_followed)
        elif self.follows:
            self.source.unobserve(self._on_followed, names=list(self.follows))

    def _on_followed(self, change) -> None:
        if self._closed:
            return
        try:
            self.on_state(change)
        except Exception as err:  # noqa: BLE001 - shown, never raised into the kernel
            self.show_error(str(err))

    def draw(self) -> None:
        """Redraw now; an error is shown in the view (and kept in :attr:`error`)."""
        if not self._built or self._closed:
            return
        try:
            with self.drawing():
                self.render()
        except Exception as err:  # noqa: BLE001 - shown, never raised into the kernel
            self.show_error(str(err))
        else:
            if self.error:
                self.clear_error()

    def drawing(self):
        """The scheduler's drawing block (a no-op block for sources without one)."""
        return self.scheduler.drawing() if self.scheduler is not None else nullcontext()

    @contextmanager
    def syncing(self):
        """Set this view's own widgets from the state: within the block (in this
        thread only), :attr:`from_user` is False, so the widgets' handlers know the
        change is no person's and do not echo it back. The one re-entrancy guard."""
        local = self.__dict__.setdefault("_sync_local", threading.local())
        depth = getattr(local, "depth", 0)
        local.depth = depth + 1
        try:
            yield
        finally:
            local.depth = depth

    @property
    def from_user(self) -> bool:
        """False while this thread sets the view's widgets in :meth:`syncing`."""
        local = self.__dict__.get("_sync_local")
        return not (local is not None and getattr(local, "depth", 0))

    def defer(self, draw) -> None:
        """Run ``draw`` after every view has drawn its main picture (its errors are
        shown in this view)."""

        def guarded():
            try:
                draw()
            except Exception as err:  # noqa: BLE001 - shown, never raised into the kernel
                self.show_error(str(err))

        if self.scheduler is not None:
            self.scheduler.defer(guarded)
        else:
            guarded()

    def show_error(self, text: str) -> None:
        """Show ``text`` as this view's error."""
        self.set_trait("error", text)
        self.message.value = status_html(text, error=True)

    def clear_error(self) -> None:
        """Clear the error shown (what else the message line says stays)."""
        shown = status_html(self.error, error=True)
        self.set_trait("error", "")
        if self.message.value == shown:
            self.message.value = ""

    def _option_changed(self, change) -> None:
        """Observer for options: redraw once the view is built."""
        if self._built:
            self.draw()

    def close(self) -> None:
        """Stop following the state, then close the widget and its children."""
        if not self._closed and self.source is not None:
            self._closed = True
            self._unfollow()
            for child in self.children:
                close_tree(child)
        super().close()


class ModelView(View):
    """A view of a :class:`~nnwidgets.state.ModelState`: it follows the state through
    the state's :class:`~nnwidgets.views.scheduler.DrawScheduler`.

    Attributes
    ----------
    state : ModelState
        The shared state this view draws.
    """

    def __init__(self, state, **options):
        from ..state import ModelState

        if not isinstance(state, ModelState):
            raise TypeError(
                f"{type(self).__name__} needs a ModelState, got {type(state).__name__}; "
                "make one with nnwidgets.ModelState(model, inputs, labels)"
            )
        self.state = state
        super().__init__(state, **options)

    def _scheduler_of(self, source):
        return DrawScheduler.of(source)

    def weights_key(self):
        """The weights the current drawing is made with (read once per click)."""
        return self.scheduler.weights_key()
