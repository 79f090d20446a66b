"""Noticing a foreground ``fit`` that never ended (an exception, an interrupt)."""

from __future__ import annotations

import threading


def watch_cell(session) -> None:
    """In IPython, when the cell running a foreground ``fit`` ends with training still
    active, mark the session failed (with the cell's error), so that its outputs say
    so; every value already recorded stays."""
    if threading.current_thread() is not threading.main_thread():
        return
    try:
        from IPython import get_ipython
    except ImportError:
        return
    ip = get_ipython()
    if ip is None or not hasattr(ip, "events"):
        return

    def after(result):
        ip.events.unregister("post_run_cell", after)
        if session.active:
            session.fail(result.error_in_exec or RuntimeError("the cell ended before training did"))

    ip.events.register("post_run_cell", after)
