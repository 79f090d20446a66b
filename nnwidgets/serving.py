"""Serving a dashboard to a class with Voila: a cap on the kernels a server starts.

Voila starts one kernel per viewer (and, with ``preheat_kernel``, a pool of spare ones)
with no upper bound: on a small server the thirtieth viewer's kernel can exhaust the
memory of all. :class:`ClassroomKernelManager` is Jupyter's own kernel manager with one
addition, ``max_kernels``; a viewer who arrives when that many kernels run gets a page
that says the dashboard is full, instead of a page that never comes.

Voila takes it from its configuration (``notebooks/voila.json`` here)::

    {"VoilaConfiguration": {"multi_kernel_manager_class":
                            "nnwidgets.serving.ClassroomKernelManager"},
     "ClassroomKernelManager": {"max_kernels": 24}}
"""

from __future__ import annotations

import asyncio
import math
import time

from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager
from tornado import web
from traitlets import Float, Int, Unicode

#: What a viewer beyond the cap reads (a Voila error page shows it as its heading).
FULL_MESSAGE = (
    "This dashboard has as many viewers as this server can take ({limit}). "
    "Please try again in a few minutes."
)


class ClassroomKernelManager(AsyncMappingKernelManager):
    """Jupyter's kernel manager with a cap on the kernels running at once.

    The cap counts every kernel, viewers' and preheated spares alike, so that it bounds
    the server's memory. A kernel asked for beyond it raises an HTTP 503 error whose
    reason is :data:`FULL_MESSAGE`: Voila shows it to the viewer as its error page. A
    preheated spare that could not start is dropped when a kernel ends, and the pool
    is refilled then.

    Attributes
    ----------
    max_kernels : int
        Kernels at most; 0 means no cap.
    full_message : str
        The message, with ``{limit}`` standing for ``max_kernels``.
    pool_start_gap : float
        Seconds at least between the starts of two preheated kernels. A spare also waits
        until the spare started before it has run the notebook (each imports TensorFlow
        and runs the dashboard: about 10 s of CPU), for ``pool_warm_timeout`` seconds at
        most. After a class arrives together, Voila refills its pool at once; one spare at
        a time, the refill leaves most of the CPU to the viewers.
    pool_warm_timeout : float
        Seconds a spare waits for the one before it to be warm.
    """

    max_kernels = Int(0, min=0, config=True, help="Kernels running at once, at most (0: no cap).")
    full_message = Unicode(FULL_MESSAGE, config=True, help="What a viewer beyond the cap reads.")
    pool_start_gap = Float(
        0.0, min=0.0, config=True, help="Seconds between the starts of two preheated kernels."
    )
    pool_warm_timeout = Float(
        120.0, min=0.0, config=True, help="Seconds a spare waits for the previous to be warm."
    )

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._starting = 0  # starts under way, not yet in the kernel list
        self._pool_gate = None  # an asyncio.Lock, made in the server's loop
        self._last_pool_start = -math.inf
        self._last_spare = None  # the id of the spare started last

    @property
    def full(self) -> bool:
        """True when no other kernel may start."""
        return bool(self.max_kernels) and len(self) + self._starting >= self.max_kernels

    async def start_kernel(self, *args, kernel_id=None, **kwargs):
        if not _preheating(kwargs):
            return await self._start(*args, kernel_id=kernel_id, **kwargs)
        if self._pool_gate is None:
            self._pool_gate = asyncio.Lock()  # spares one after another, first come first
        async with self._pool_gate:
            await self._wait_turn()
            started = await self._start(*args, kernel_id=kernel_id, **kwargs)
            self._last_spare = started
            self._last_pool_start = time.monotonic()
        return started

    async def _start(self, *args, kernel_id=None, **kwargs):
        if kernel_id is None and self.full:  # (a restart keeps its place)
            message = self.full_message.format(limit=self.max_kernels)
            self.log.warning("Refused a kernel: %d running, the cap", self.max_kernels)
            raise web.HTTPError(503, reason=message)
        self._starting += 1
        try:
            return await super().start_kernel(*args, kernel_id=kernel_id, **kwargs)
        finally:
            self._starting -= 1

    async def _wait_turn(self) -> None:
        """Wait until ``pool_start_gap`` seconds have passed since the last spare started
        and that spare is warm."""
        wait = self._last_pool_start + self.pool_start_gap - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        await self._previous_spare_warm()

    async def _previous_spare_warm(self, quiet: float = 3.0) -> None:
        """Wait until the spare started last has been idle for ``quiet`` seconds (it ran
        the notebook), has ended, or ``pool_warm_timeout`` has passed."""
        deadline = time.monotonic() + self.pool_warm_timeout
        idle_since = None
        while time.monotonic() < deadline:
            kernel = self._kernels.get(self._last_spare) if self._last_spare else None
            if kernel is None:
                return
            if getattr(kernel, "execution_state", "idle") != "idle":
                idle_since = None
            elif idle_since is None:
                idle_since = time.monotonic()
            elif time.monotonic() - idle_since >= quiet:
                return
            await asyncio.sleep(0.25)

    async def shutdown_kernel(self, kernel_id, *args, **kwargs):
        result = await super().shutdown_kernel(kernel_id, *args, **kwargs)
        self._refill_pools()
        return result

    def _refill_pools(self) -> None:
        """Drop preheated spares that failed to start (the server was full) and let
        Voila's pool start them again now that a kernel has ended."""
        pools = getattr(self, "_pools", None)  # Voila's preheated pools, when enabled
        refill = getattr(self, "fill_if_needed", None)
        if not pools or refill is None:
            return
        for name, pool in pools.items():
            failed = [task for task in pool if task.done() and _failed(task)]
            if failed:
                pool[:] = [task for task in pool if task not in failed]
                refill(notebook_name=name)


def _preheating(kwargs) -> bool:
    """Whether Voila asks for a preheated spare (it marks their environment)."""
    return (kwargs.get("env") or {}).get("VOILA_PREHEAT") == "True"


def _failed(task) -> bool:
    return task.cancelled() or task.exception() is not None
