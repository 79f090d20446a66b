"""The tables printed at the end: per model and kind of switch, medians and maxima."""

from __future__ import annotations

import statistics

from .cases import Case
from .switch import Switch


def _median(xs) -> float | None:
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def _max(xs) -> float | None:
    xs = [x for x in xs if x is not None]
    return max(xs) if xs else None


def _cell(x: float | None, fmt: str = "{:.0f}") -> str:
    return "-" if x is None else fmt.format(x)


def print_tables(rows: list[tuple[Case, str, list[Switch]]]) -> None:
    table = [["model", "switch", "n", "median ms", "max ms", "goal ms", "timeouts", "max kB"]]
    for case, kind, sw in rows:
        med, worst = _median(s.ms for s in sw), _max(s.ms for s in sw)
        verdict = "" if med is None else (" ok" if med <= case.goal_ms else " OVER")
        table.append(
            [
                case.title,
                kind,
                str(len(sw)),
                _cell(med) + verdict,
                _cell(worst),
                f"{case.goal_ms:.0f}",
                str(sum(1 for s in sw if s.ms is None)),
                _cell(_max(s.bytes_to_t1 / 1000 for s in sw), "{:.1f}"),
            ]
        )
    _print(table)
    print("  max kB: the largest switch, in kB of WebSocket frames received between t0 and t1")
    for case, kind, sw in rows:
        first = [s.ms for s in sw if s.first_visit]
        again = [s.ms for s in sw if kind == "layer" and not s.first_visit]
        if first and again:
            print(
                f"  {case.title} layer switches: first visits median {_cell(_median(first))} ms"
                f" (max {_cell(_max(first))}, n={len(first)}), revisits median"
                f" {_cell(_median(again))} ms (max {_cell(_max(again))}, n={len(again)})"
            )
    print()
    print("Where the time goes (medians over the switches; ms from t0):")
    table = [
        [
            "model",
            "switch",
            "to kernel",
            "python",
            "kernel done",
            "idle recv",
            "page lag",
            "views met",
            "browser",
            "msgs",
            "opens",
            "kB to t1",
            "binary kB",
        ]
    ]
    for case, kind, sw in rows:
        table.append(
            [
                case.title,
                kind,
                _cell(_median(s.to_kernel_ms for s in sw)),
                _cell(_median(s.python_ms for s in sw)),
                _cell(_median(s.kernel_done_ms for s in sw)),
                _cell(_median(s.idle_recv_ms for s in sw)),
                _cell(_median(s.page_lag_ms for s in sw)),
                _cell(_median(s.met_ms for s in sw)),
                _cell(_median(s.browser_ms for s in sw)),
                _cell(_median(s.msgs_to_t1 for s in sw)),
                _cell(_median(s.opens for s in sw)),
                _cell(_median(s.bytes_to_t1 / 1000 for s in sw), "{:.1f}"),
                _cell(_median(s.buffer_bytes / 1000 for s in sw), "{:.1f}"),
            ]
        )
    _print(table)
    print(
        "  to kernel: t0 -> the kernel starts (busy); python: kernel busy -> idle, the\n"
        "  handlers and sending every message; kernel done: the sum; idle recv: the page\n"
        "  gets the idle status; page lag: idle recv - kernel done, how long the kernel's\n"
        "  last message waited (server relay + a busy page main thread); views met: every\n"
        "  view changed; browser: t1 - the last frame that arrived before that; msgs, kB:\n"
        "  frames received t0..t1; opens: new widgets (comm_open); binary: PNGs and arrays."
    )
    traced = [(c, k, sw) for c, k, sw in rows if any(s.trace for s in sw)]
    if traced:
        print()
        print("The page's main thread between t0 and t1 (medians, ms, from the Chrome trace):")
        keys = ["busy", "cpu", "script", "style+layout", "paint", "gc", "other"]
        table = [["model", "switch", *keys]]
        for case, kind, sw in traced:
            cells = [_cell(_median(s.trace.get(k, 0.0) for s in sw if s.trace)) for k in keys]
            table.append([case.title, kind, *cells])
        _print(table)
        print(
            "  busy: wall time in tasks; cpu: the thread's CPU time in them (less than busy\n"
            "  when other processes had the CPU); the rest: self time by kind of work."
        )


def _print(table: list[list[str]]) -> None:
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    for j, row in enumerate(table):
        cells = zip(row, widths, strict=True)
        print(
            "  " + "  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(cells))
        )
        if j == 0:
            print("  " + "  ".join("-" * w for w in widths))
