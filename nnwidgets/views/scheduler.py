"""When views draw: one lock per state, one dispatch per change, slow parts last.

A :class:`~nnwidgets.state.ModelState` knows nothing of drawing. Views subscribe here
to the state traits they follow; the scheduler observes each such trait once and, on a
change, calls the subscribed views inside one :meth:`DrawScheduler.drawing` block:

- one lock (the state's ``lock``), so that a background ``fit`` refreshing the views
  from its thread and a click handled by the kernel never draw at the same time, nor
  while ``set_data`` swaps the data;
- the forward pass is not made under that lock: before taking it, a block records the
  selected input with the weights as they are (when the views drew from a recording
  the last time this trait changed). A click then never waits for the forward pass of
  a view refresh on the training thread, nor that refresh for a click's (a change
  made holding the lock, as ``ModelState.refresh()`` makes it, still records under it);
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
        self._local = threading.local()  # .depth: drawing blocks open in this thread
        self._wants: dict = {}  # reason -> whether its views drew from a recording

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
        with self.drawing(reason=change["name"]):
            for handler in list(self._subscribers.get(change["name"], ())):
                handler(change)

    # -- drawing -----------------------------------------------------------
    @contextmanager
    def drawing(self, reason=None):
        """Hold this while drawing from the state (re-entrant). Deferred drawings run
        when the outermost block ends.

        A thread's outermost block first records the selected input, outside the lock,
        if the views drew from a recording the last time a block had this ``reason``
        (the name of the trait that changed); the block then draws with those weights.
        """
        depth = getattr(self._local, "depth", 0)
        self._local.depth = depth + 1  # (a status drawn while preparing prepares nothing)
        try:
            prepared = self._prepare(reason) if depth == 0 else None
            with self._lock:
                outer = self._depth == 0
                if outer:
                    self._key = self._prepared_key(prepared)
                    asked = self._recordings_asked()
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
                        self._wants[reason] = self._recordings_asked() > asked
        finally:
            self._local.depth = depth

    def _prepare(self, reason):
        """Record the selected input with the weights as they are now (outside the lock);
        return what was recorded, ``(key, index, inputs)``, or None."""
        state = self._state()
        if state is None or state.inputs is None or not self._wants.get(reason, True):
            return None
        key = state.weights_key()  # before the inputs: set_data bumps the key after
        inputs, index = state.inputs, state.input_index
        try:
            state.predictions(index, key)  # the recording (the state says it computes)
        except Exception:  # noqa: BLE001 - the views' own draws show what is wrong
            return None
        return key, index, inputs

    def _prepared_key(self, prepared):
        """The key to draw with: the prepared one, while its recording is kept and the
        data it was made from is still the state's (else None: read in the block)."""
        if prepared is None:
            return None
        key, index, inputs = prepared
        state = self._state()
        kept = (key, index) in state.activations
        return key if kept and state.inputs is inputs and state.input_index == index else None

    def _recordings_asked(self) -> int:
        cache = self._state().activations
        return cache.hits + cache.misses

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
        """The state's ``weights_key()``, read once per :meth:`drawing` block (before
        it, when the block began by recording the selected input)."""
        with self._lock:
            if self._depth and self._key is not None:
                return self._key
            key = self._state().weights_key()
            if self._depth:
                self._key = key
            return key
