"""When views draw: one lock per state, one dispatch per change, slow parts last.

A :class:`~nnwidgets.state.ModelState` knows nothing of drawing. Views subscribe here
to the state traits they follow; the scheduler observes each such trait once and, on a
change, calls the subscribed views inside one :meth:`DrawScheduler.drawing` block:

- one lock (the state's ``lock``), so that a background ``fit`` refreshing the views
  from its thread and a click handled by the kernel never draw at the same time, nor
  while ``set_data`` swaps the data;
- the weights are read once per block (:meth:`DrawScheduler.weights_key`), so one
  click costs at most one forward pass even while the model trains;
- :meth:`DrawScheduler.defer` queues what can wait (histograms, bar charts) until every
  view has drawn its main picture, which then reaches the browser sooner.
"""

from __future__ import annotations

import threading
import weakref
from contextlib import contextmanager

_SCHEDULERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_CREATE = threading.Lock()


class DrawScheduler:
    """The drawing schedule of one state's views; get it with :meth:`of`.

    >>> import keras
    >>> from nnwidgets import ModelState
    >>> state = ModelState(keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)]))
    >>> DrawScheduler.of(state) is DrawScheduler.of(state)
    True
    """

    def __init__(self, state):
        self._state = weakref.ref(state)
        self._lock = state.lock  # the state's own: data never changes mid-drawing
        self._depth = 0
        self._key = None
        self._deferred: list = []
        self._subscribers: dict[str, list] = {}

    @classmethod
    def of(cls, state) -> DrawScheduler:
        """The one scheduler of ``state`` (made on first use)."""
        with _CREATE:
            scheduler = _SCHEDULERS.get(state)
            if scheduler is None:
                scheduler = _SCHEDULERS[state] = cls(state)
            return scheduler

    # -- subscriptions -----------------------------------------------------
    def subscribe(self, names, handler) -> None:
        """Call ``handler(change)`` inside :meth:`drawing` when a trait in ``names``
        of the state changes (once per change, however many names match)."""
        state = self._state()
        for name in names:
            handlers = self._subscribers.setdefault(name, [])
            if not handlers:
                state.observe(self._dispatch, names=name)
            if handler not in handlers:
                handlers.append(handler)

    def unsubscribe(self, names, handler) -> None:
        """Stop calling ``handler``; the state is unobserved when no view is left."""
        state = self._state()
        for name in names:
            handlers = self._subscribers.get(name, [])
            if handler in handlers:
                handlers.remove(handler)
                if not handlers and state is not None:
                    state.unobserve(self._dispatch, names=name)

    def subscribers(self) -> int:
        """How many (trait, handler) subscriptions there are."""
        return sum(len(h) for h in self._subscribers.values())

    def _dispatch(self, change) -> None:
        with self.drawing():
            for handler in list(self._subscribers.get(change["name"], ())):
                handler(change)

    # -- drawing -----------------------------------------------------------
    @contextmanager
    def drawing(self):
        """Hold this while drawing from the state (re-entrant). Deferred drawings run
        when the outermost block ends."""
        with self._lock:
            outer = self._depth == 0
            if outer:
                self._key = None
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            if outer:
                try:
                    self._run_deferred()
                finally:
                    self._key = None

    def defer(self, draw) -> None:
        """Run ``draw`` once every view has handled the current change (now, outside
        :meth:`drawing`)."""
        with self._lock:
            if self._depth:
                self._deferred.append(draw)
                return
        draw()

    def _run_deferred(self) -> None:
        while self._deferred:
            pending, self._deferred = self._deferred, []
            for draw in pending:
                draw()

    def weights_key(self):
        """The state's ``weights_key()``, read once per :meth:`drawing` block."""
        with self._lock:
            if self._depth and self._key is not None:
                return self._key
            key = self._state().weights_key()
            if self._depth:
                self._key = key
            return key
