"""Voila serving a notebook, and the dashboard page in Chromium with measure.js in it."""

from __future__ import annotations

import contextlib
import re
import time
from pathlib import Path

from tests.browser_support import free_port, serve, voila_command

from .switch import Switch, summarise

# The code in the page (window.__nnwBench: the WebSocket log, the switch, the redraw
# detection), installed with Playwright's add_init_script before any page script.
INIT_JS = Path(__file__).with_name("measure.js").read_text(encoding="utf-8")


@contextlib.contextmanager
def voila(nb: Path, log_path: Path, timeout: float = 120.0):
    """Serve ``nb`` with this venv's Voila (kernel: this venv's python) until exit."""
    port = free_port()
    cmd = voila_command(nb, port)
    with serve(cmd, port, log_path.name, timeout=timeout, cwd=nb.parent, log_dir=log_path.parent):
        yield f"http://127.0.0.1:{port}/"


class Bench:
    """An open dashboard page, what it shows, and the switches measured on it."""

    def __init__(self, page, timeout_s: float, verbose: bool = False):
        self.page = page
        self.timeout_ms = timeout_s * 1000
        self.verbose = verbose
        self.options: dict[str, str] = {}  # layer name -> option value
        self.layer = ""
        self.index = 0
        self.n_inputs = 0
        self.ws_bytes = 0
        page.on("websocket", self._on_websocket)

    def _on_websocket(self, ws) -> None:
        def count(payload):
            self.ws_bytes += len(payload.encode() if isinstance(payload, str) else payload)

        ws.on("framereceived", count)

    def open(self, url: str, load_timeout_s: float) -> float:
        """Load the page and wait for the dashboard; return the seconds it took."""
        page = self.page
        start = time.monotonic()
        page.goto(url, timeout=load_timeout_s * 1000)
        for sel in (".nnw-explorer svg.svg-figure", ".nnw-weights svg image"):
            page.wait_for_selector(sel, state="attached", timeout=load_timeout_s * 1000)
        page.wait_for_selector(".nnw-activations svg image", state="attached")
        loaded = time.monotonic() - start
        values = page.eval_on_selector(
            ".nnw-layer-picker select", "s => Array.from(s.options).map(o => o.value)"
        )
        # option values read "name · Type · shape · params"; nested layers are indented
        self.options = {v.lstrip("\u2003").split(" ")[0]: v for v in values}
        selected = page.eval_on_selector(".nnw-layer-picker select", "s => s.value")
        self.layer = selected.lstrip("\u2003").split(" ")[0]
        caption = re.search(r"^input (\d+) of (\d+)$", page.inner_text(".nnw-explorer"), re.M)
        if caption:
            self.index, self.n_inputs = int(caption[1]), int(caption[2])
        self.settle(1000)
        self.forget()
        return loaded

    def settle(self, quiet_ms: int = 200) -> None:
        """Wait until the kernel is idle after what was sent and no frame came for a while."""
        if self.page.evaluate("() => window.__nnwBench.count()"):
            try:
                self.page.wait_for_function(
                    "q => window.__nnwBench.settled(q)", arg=quiet_ms, polling=50, timeout=180_000
                )
            except Exception as err:  # noqa: BLE001 - reported; the next switch still runs
                print(f"    (the kernel did not go idle: {str(err).splitlines()[0]})", flush=True)
        self.page.wait_for_timeout(100)

    def forget(self) -> None:
        self.page.evaluate("() => window.__nnwBench.clear()")
        self.ws_bytes = 0

    def switch_layer(self, name: str, timeout_ms: float | None = None) -> Switch:
        if name not in self.options:
            raise KeyError(f"no layer {name!r} in the picker: {sorted(self.options)[:30]} ...")
        spec = {"kind": "layer", "value": self.options[name], "layer": name}
        return self._run({**spec, "index": self.index}, timeout_ms)

    def next_input(self, timeout_ms: float | None = None) -> Switch:
        index = (self.index + 1) % max(self.n_inputs, 1)
        return self._run({"kind": "input", "layer": self.layer, "index": index}, timeout_ms)

    def _run(self, spec: dict, timeout_ms: float | None) -> Switch:
        spec["timeoutMs"] = timeout_ms or self.timeout_ms
        res = self.page.evaluate("spec => window.__nnwBench.run(spec)", spec)
        # the state moves even when the redraw timed out
        self.layer, self.index = spec["layer"], spec["index"]
        self.settle()  # after t1, not timed: until the kernel is idle and the socket quiet
        recs = self.page.evaluate(
            "([t0, e0]) => window.__nnwBench.records(t0, e0)", [res["t0"], res["epoch0"]]
        )
        s = summarise(spec["kind"], spec["layer"], spec["index"], res, recs)
        s.ws_bytes = self.ws_bytes
        self.forget()
        return s
