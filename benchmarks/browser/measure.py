"""The switches of one model: its notebook served, the page opened, warm-up, the layer
switches and the input steps (traced with ``--trace``)."""

from __future__ import annotations

import json
from pathlib import Path

from .cases import Case, notebook
from .page import INIT_JS, Bench, voila
from .switch import Switch
from .trace import TRACE_CATEGORIES, trace_windows


def run_case(browser, case: Case, args, workdir: Path) -> tuple[list[Switch], list[Switch]]:
    nb = workdir / f"bench_{case.key}.ipynb"
    nb.write_text(json.dumps(notebook(case.setup), indent=1))
    with voila(nb, workdir / f"voila_{case.key}.log") as url:
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        context.add_init_script(INIT_JS)
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda err: errors.append(str(err)))
        bench = Bench(page, args.timeout, args.verbose)
        try:
            loaded = bench.open(url, case.load_timeout_s)
            print(f"  page ready in {loaded:.1f} s", flush=True)
            result = measure(browser, bench, case, args)
        finally:
            context.close()
    if errors:
        print(f"  page errors: {errors[:3]}")
    return result


def measure(browser, bench: Bench, case: Case, args) -> tuple[list[Switch], list[Switch]]:
    missing = [n for n in [*case.layers, case.input_layer] if n not in bench.options]
    if missing:
        raise KeyError(f"{case.title}: no layers {missing} in the picker")
    seen = {bench.layer}
    # warm up: the first calls may trace tf.function, compile JS, fill caches
    for _ in range(args.warmup):
        target = next(n for n in case.layers if n != bench.layer)
        seen.add(target)
        _show(bench, "warm-up", bench.switch_layer(target, 120_000))
        _show(bench, "warm-up", bench.next_input(120_000))

    def layer_switches() -> list[Switch]:
        out, i = [], 0
        while len(out) < args.repeat:
            name = case.layers[i % len(case.layers)]
            i += 1
            if name != bench.layer:
                first = name not in seen
                s = bench.switch_layer(name)
                s.first_visit = first
                seen.add(name)
                out.append(_show(bench, "layer", s))
        return out

    def input_switches() -> list[Switch]:
        return [_show(bench, "input", bench.next_input()) for _ in range(args.repeat)]

    layers = _traced(browser, bench, args, f"{case.key}-layer", layer_switches)
    if bench.layer != case.input_layer:
        _show(bench, "setup", bench.switch_layer(case.input_layer, 120_000))
    inputs = _traced(browser, bench, args, f"{case.key}-input", input_switches)
    return layers, inputs


def _traced(browser, bench: Bench, args, name: str, run) -> list[Switch]:
    if not args.trace:
        return run()
    browser.start_tracing(page=bench.page, categories=TRACE_CATEGORIES)
    try:
        switches = run()
    finally:
        data = browser.stop_tracing()
    args.trace.mkdir(parents=True, exist_ok=True)
    (args.trace / f"{name}.json").write_bytes(data)  # open in DevTools' Performance panel
    for s, row in zip(switches, trace_windows(data), strict=False):
        s.trace = row
    return switches


def _show(bench: Bench, what: str, s: Switch) -> Switch:
    if bench.verbose or (what in ("warm-up", "setup") and s.ms is None):
        ms = "TIMEOUT" if s.ms is None else f"{s.ms:7.1f}"
        trace = f" | main {_f(s.trace['busy'])} cpu {_f(s.trace['cpu'])}" if s.trace else ""
        print(
            f"    {what:7s} {s.kind:5s} {s.layer:26s} in {s.index:3d} {ms} ms"
            f"{' (first)' if s.first_visit else ''}{' (via idle)' if s.via_idle else ''}"
            f" | kernel {_f(s.to_kernel_ms)} + py {_f(s.python_ms)}"
            f" | idle recv {_f(s.idle_recv_ms)} last msg {_f(s.last_msg_ms)}"
            f" browser {_f(s.browser_ms)}"
            f" | {s.msgs_to_t1:3d}/{s.msgs_all:3d} msgs {s.opens} open"
            f" {s.bytes_to_t1 / 1000:6.1f}/{s.bytes_all / 1000:6.1f} kB"
            f" (ws {s.ws_bytes / 1000:.1f}){trace}",
            flush=True,
        )
    return s


def _f(x: float | None) -> str:
    return "   -  " if x is None else f"{x:6.1f}"
