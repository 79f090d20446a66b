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


def print_table(title: str, rows: list[dict]) -> None:
    """Print ``rows`` (dicts with the same keys) as a Markdown table under ``title``;
    integers get thousands separators, floats are rounded to whole numbers."""
    print(f"\n{title}\n")
    keys = list(rows[0])
    print("| " + " | ".join(keys) + " |")
    print("|" + "---|" * len(keys))
    for r in rows:
        cells = [
            f"{v:,.0f}" if isinstance(v, float) else f"{v:,}" if isinstance(v, int) else str(v)
            for v in r.values()
        ]
        print("| " + " | ".join(cells) + " |")
