"""Benchmarks run by ``make bench``: figures side by side in one run, no assertions."""

from __future__ import annotations

import statistics
import time


def median_ms(fn, repeats: int) -> float:
    """The median wall time of ``fn()`` over ``repeats`` calls, in milliseconds."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000
