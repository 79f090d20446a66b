"""Browser-side cost of a click: from choosing a layer or an input to the page redrawn.

Each model gets a small notebook (written to a temp dir) served by Voila from this venv
and opened in headless Chromium (Debian's, through Playwright). In the page, right
before the choice is dispatched, ``t0 = performance.now()``; a MutationObserver (set up
before ``t0``) watches the dashboard until every view that must change has changed:

- layer switch: the weights picture (its ``<image>`` href and figure title), or the
  "no weights" view, and the activations (picture, or bars / line for vectors);
- input switch: the activations and the input picture.

One ``requestAnimationFrame`` later, ``t1 = performance.now()``. A switch that takes
longer than ``--timeout`` seconds counts as a timeout. Layer switches cycle over layers
of different kinds, so the first pass visits each layer for the first time (its weight
picture is then computed; later visits hit the view's cache); every input step is an
input the state has not run yet.

The page's WebSocket is wrapped (before Jupyter opens it) to log every frame with its
arrival time, so each switch also reports the messages and bytes received up to ``t1``
and where the time went, from the kernel's own message timestamps (same machine, same
wall clock): t0 to the kernel starting, Python (kernel busy to idle), how late the page
got the kernel's last message, and the page's own tail after the last message it needed.
``--trace DIR`` also records Chrome traces and splits the page's main-thread time
between t0 and t1 into script, style and layout, paint and GC.

Run::

    .venv/bin/python benchmarks/bench_browser.py            # both models, 15 + 15 switches
    .venv/bin/python benchmarks/bench_browser.py --quick --model cnn
    .venv/bin/python benchmarks/bench_browser.py -v --trace /tmp/nnw-traces

Needs voila, playwright (Python) and Chromium at /usr/bin/chromium (or $NNW_CHROMIUM);
Playwright's own browser download is never used. Figures are noisy on a shared machine:
compare medians from the same run, not absolutes across machines.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

# The servers' helpers are the browser tests' own (tests/browser_support.py).
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from browser_support import (  # noqa: E402
    CHROMIUM,
    CHROMIUM_ARGS,
    free_port,
    kernel_env,
    log_tail,
    port_open,
    stop,
    voila_command,
)


@dataclass
class Case:
    """One model in its own notebook, and what to click."""

    key: str
    title: str
    setup: str  # notebook code defining model, x, y
    layers: list[str]  # layer switches cycle over these
    input_layer: str  # selected while stepping through inputs
    goal_ms: float
    load_timeout_s: float = 300.0


def cases(n_inputs: int) -> dict[str, Case]:
    return {
        "cnn": Case(
            key="cnn",
            title="digits CNN",
            setup=(
                "x, y = nw.datasets.load_digits()\n"  # all 1797 digits
                "model = nw.datasets.demo_model()\n"
            ),
            layers=["conv1", "conv2", "pool", "flatten", "dense", "dropout", "probs"],
            input_layer="conv2",
            goal_ms=100.0,
        ),
        "mobilenet": Case(
            key="mobilenet",
            title="MobileNetV2 96",
            setup=(
                "import keras\n"
                "import numpy as np\n"
                "model = keras.applications.MobileNetV2(input_shape=(96, 96, 3), weights=None)\n"
                f"x = np.random.default_rng(0).random(({n_inputs}, 96, 96, 3), dtype=np.float32)\n"
                "y = None\n"
            ),
            layers=[
                "Conv1",  # conv, 48x48x32 output
                "bn_Conv1",  # batch norm: vectors as weights
                "block_1_expand_relu",  # no weights, 48x48x96 output
                "block_1_depthwise",  # depthwise conv
                "block_1_pad",  # zero padding, 49x49x96
                "block_2_add",  # add
                "block_16_project",  # 1x1 conv 960 -> 320
                "Conv_1",  # 1x1 conv 320 -> 1280
                "global_average_pooling2d",  # pooling to a 1280-vector (a line)
                "predictions",  # dense 1280 x 1000
            ],
            input_layer="block_1_expand",
            goal_ms=250.0,
        ),
    }


def notebook(setup: str) -> dict:
    code = (
        "import os\n"
        'os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"\n'
        "import nnwidgets as nw\n"
        f"{setup}"
        "app = nw.explore(model, x, y)\n"
        "display(app)\n"
    )
    return {
        "cells": [
            {
                "cell_type": "code",
                "execution_count": None,
                "id": "bench",
                "metadata": {},
                "outputs": [],
                "source": code,
            }
        ],
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


# -- in the page -----------------------------------------------------------------
# Installed before any page script: logs every WebSocket frame (arrival time, data) and
# defines the switch, the redraw detection and the message decoding.
INIT_JS = r"""
(() => {
  const log = [];
  const Native = window.WebSocket;
  class LoggedWebSocket extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener("message", (e) => {
        const entry = { t: performance.now(), dir: "r", data: e.data };
        log.push(entry);
        if (bench.onFrame) bench.onFrame(entry);
      });
    }
    send(data) {
      log.push({ t: performance.now(), dir: "s", data });
      return super.send(data);
    }
  }
  window.WebSocket = LoggedWebSocket;

  const dec = new TextDecoder();
  const enc = new TextEncoder();
  const nbytes = (d) =>
    typeof d === "string" ? enc.encode(d).length : d.byteLength ?? d.size ?? 0;

  // A Jupyter message, from the v1.kernel.websocket.jupyter.org framing or JSON text.
  function parse(d) {
    try {
      if (typeof d === "string") {
        const m = JSON.parse(d);
        return { channel: m.channel, header: m.header, parent: m.parent_header,
                 content: m.content, buffers: [] };
      }
      if (!(d instanceof ArrayBuffer)) return null;
      const v = new DataView(d);
      const n = Number(v.getBigUint64(0, true));
      if (n < 6 || 8 * (n + 1) > d.byteLength) return null;
      const off = [];
      for (let i = 0; i < n; i++) off.push(Number(v.getBigUint64(8 * (i + 1), true)));
      const part = (i) => dec.decode(new Uint8Array(d, off[i], off[i + 1] - off[i]));
      const buffers = [];
      for (let i = 5; i < n - 1; i++) buffers.push(off[i + 1] - off[i]);
      return { channel: part(0), header: JSON.parse(part(1)), parent: JSON.parse(part(2)),
               content: JSON.parse(part(4)), buffers };
    } catch (err) {
      return null;
    }
  }
  const parsed = (e) => (e.msg === undefined ? (e.msg = parse(e.data)) : e.msg);

  // Kernel ISO dates carry microseconds; Date.parse keeps milliseconds.
  function epochMs(s) {
    const m = /^(.*T\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:?\d\d)?$/.exec(s || "");
    if (!m) return null;
    return Date.parse(m[1] + (m[3] || "Z")) + (m[2] ? parseFloat(m[2]) * 1000 : 0);
  }

  const isIdle = (e, ids) => {
    if (e.dir !== "r" || nbytes(e.data) > 2000) return false;
    const m = parsed(e);
    return !!m && m.header.msg_type === "status" && m.content.execution_state === "idle"
      && ids.has(m.parent.msg_id);
  };
  const sentIds = () => {
    const ids = new Set();
    for (const e of log) {
      const m = e.dir === "s" ? parsed(e) : null;
      if (m && m.channel === "shell") ids.add(m.header.msg_id);
    }
    return ids;
  };

  const bench = (window.__nnwBench = {
    onFrame: null,
    clear() { log.length = 0; },
    count() { return log.length; },

    // Every frame since clear(), decoded, times in ms relative to t0 (page clock for
    // arrival, kernel / browser wall clock for header dates).
    records(t0, epoch0) {
      return log.map((e) => {
        const m = parsed(e);
        const h = (m && m.header) || {};
        const c = (m && m.content) || {};
        const data = c.data || {};
        return {
          t: e.t - t0,
          dir: e.dir,
          bytes: nbytes(e.data),
          channel: m ? m.channel : null,
          type: h.msg_type || null,
          id: h.msg_id || null,
          date: h.date ? epochMs(h.date) - epoch0 : null,
          parent: (m && m.parent && m.parent.msg_id) || null,
          state: c.execution_state || null,
          method: data.method || null,
          comm: c.comm_id || null,
          keys: data.state ? Object.keys(data.state) : [],
          model: (data.state && data.state._model_name) || null,
          buffers: m ? m.buffers : [],
        };
      });
    },

    // True once the kernel is idle after every shell request sent since clear() and no
    // frame arrived for quietMs.
    settled(quietMs) {
      const ids = sentIds();
      if (!ids.size || !log.some((e) => isIdle(e, ids))) return false;
      return performance.now() - log[log.length - 1].t > quietMs;
    },

    // Choose a layer (spec.kind "layer", spec.value an option value) or the next input
    // (spec.kind "input"); resolve when the views show spec.layer for input spec.index.
    run(spec) {
      return new Promise((resolve) => {
        const root = document.querySelector(".nnw-explorer");
        const W = root.querySelector(".nnw-weights");
        const A = root.querySelector(".nnw-activations");
        const inputImg = root.querySelector("img.nnw-input-image");
        const href = (el) =>
          el ? el.getAttribute("href") || el.getAttribute("xlink:href") || "" : "";
        // hidden by a widget layout (display: none) between el and top; no layout read
        const hidden = (el, top) => {
          for (let e = el; e && e !== top; e = e.parentElement) {
            if (e.style && e.style.display === "none") return true;
          }
          return false;
        };
        const heading = (fig) => fig.querySelector(".mainheading")?.textContent || "";
        const figures = (box) => Array.from(box.querySelectorAll("svg.svg-figure"));
        const before = {
          w: href(W.querySelector("svg image")),
          a: href(A.querySelector("svg image")),
          input: inputImg ? inputImg.getAttribute("src") : null,
        };
        // Figures whose bars or line changed since t0. A vector (or an input) equal to the
        // previous one sends nothing: then the kernel's idle status, after every message
        // of the switch, stands in for the change (counted as "via idle").
        const marked = new Set();
        let idleSeen = false;
        let viaIdle = false;
        const MARK = ".bargroup, .curve, rect.bar, path.line";
        const markOf = (r) => {
          const el = r.target.nodeType === 1 ? r.target : r.target.parentElement;
          if (!el || !A.contains(el)) return null;
          const fig = el.closest("svg.svg-figure");
          if (!fig) return null;
          if (el.closest(MARK)) return fig;
          if (r.type === "attributes") {
            return el.querySelector(":scope > .bargroup, :scope > .curve") ? fig : null;
          }
          if (r.type !== "childList") return null;
          const nodes = [...r.addedNodes, ...r.removedNodes];
          return nodes.some((n) => n.nodeType === 1 && (n.matches(MARK) || n.querySelector(MARK)))
            ? fig : null;
        };

        const weightsDone = () => {
          const msg = W.querySelector(".nnw-no-weights");
          if (msg && !hidden(msg, W) && msg.textContent.startsWith(spec.layer + " (")) {
            return true;
          }
          const fig = figures(W)[0];
          if (!fig || hidden(fig, W) || !heading(fig).startsWith(spec.layer + ": ")) {
            return false;
          }
          const h = href(fig.querySelector("image"));
          return h !== "" && h !== before.w;
        };
        const activationsDone = () => figures(A).some((fig) => {
          if (hidden(fig, A)) return false;
          const h = heading(fig);
          if (!h.startsWith(spec.layer + ": output ") || !h.endsWith(" for input " + spec.index)) {
            return false;
          }
          const im = fig.querySelector("image");
          if (im) return href(im) !== "" && href(im) !== before.a;
          if (marked.has(fig)) return true;
          viaIdle = idleSeen;
          return idleSeen;
        });
        const inputDone = () => {
          if (!inputImg || hidden(inputImg, root)) return true;
          if (inputImg.getAttribute("src") !== before.input) return true;
          viaIdle = idleSeen;
          return idleSeen;
        };
        const ready = () =>
          (spec.kind === "layer" ? weightsDone() : inputDone()) && activationsDone();

        let done = false;
        let tMet = null;
        let nRecords = 0;
        let timer = null;
        const observer = new MutationObserver((records) => {
          nRecords += records.length;
          for (const r of records) {
            const fig = markOf(r);
            if (fig) marked.add(fig);
          }
          check();
        });
        let ids = null;
        bench.onFrame = (e) => {
          ids = ids || sentIds();
          if (!idleSeen && isIdle(e, ids)) {
            idleSeen = true;
            setTimeout(check, 0); // after the page has handled the frame
          }
        };
        const finish = (timedOut) => {
          clearTimeout(timer);
          observer.disconnect();
          bench.onFrame = null;
          const t1 = performance.now();
          performance.mark("nnw-switch-end"); // for Chrome traces (--trace)
          resolve({ timedOut, t0, t1, tMet, epoch0, nRecords, viaIdle });
        };
        function check() {
          if (!done && ready()) {
            done = true;
            tMet = performance.now();
            requestAnimationFrame(() => finish(false));
          }
        }
        observer.observe(root, {
          subtree: true, childList: true, characterData: true, attributes: true,
          attributeFilter: ["href", "xlink:href", "src", "style", "d", "x", "y", "width", "height"],
        });
        timer = setTimeout(() => { if (!done) { done = true; finish(true); } }, spec.timeoutMs);

        performance.mark("nnw-switch-start");
        const epoch0 = Date.now();
        const t0 = performance.now();
        if (spec.kind === "layer") {
          const select = root.querySelector(".nnw-layer-picker select");
          select.value = spec.value;
          select.dispatchEvent(new Event("change", { bubbles: true }));
        } else {
          root.querySelector("button[title='next input']").click();
        }
      });
    },
  });
})();
"""


# -- one switch, summarised -------------------------------------------------------
@dataclass
class Switch:
    """One measured switch; times in ms from t0 (None when unknown)."""

    kind: str  # "layer" or "input"
    layer: str
    index: int
    ms: float | None  # t0 -> t1; None: timed out
    met_ms: float | None = None  # every view had changed
    via_idle: bool = False  # a view sent nothing new; the kernel's idle status stood in
    first_visit: bool = False  # a layer switch to a layer not shown before
    to_kernel_ms: float | None = None  # kernel "busy" (kernel clock)
    python_ms: float | None = None  # kernel "busy" -> "idle"
    idle_recv_ms: float | None = None  # the page got the "idle" status
    last_msg_ms: float | None = None  # the last frame that arrived before met_ms
    bytes_to_t1: int = 0
    bytes_all: int = 0
    msgs_to_t1: int = 0
    msgs_all: int = 0
    opens: int = 0
    closes: int = 0
    buffer_bytes: int = 0  # binary buffers (PNGs, arrays)
    ws_bytes: int = 0  # Playwright's count of the received frames, as a cross-check
    epoch0: float = 0.0  # the page's Date.now() at t0 (ms), to compare with other clocks
    trace: dict = field(default_factory=dict)  # main-thread breakdown (--trace)
    records: list = field(default_factory=list, repr=False)

    @property
    def kernel_done_ms(self) -> float | None:
        if self.to_kernel_ms is None or self.python_ms is None:
            return None
        return self.to_kernel_ms + self.python_ms

    @property
    def page_lag_ms(self) -> float | None:
        done = self.kernel_done_ms
        return None if done is None or self.idle_recv_ms is None else self.idle_recv_ms - done

    @property
    def browser_ms(self) -> float | None:
        if self.ms is None or self.last_msg_ms is None:
            return None
        return self.ms - self.last_msg_ms


def summarise(kind: str, layer: str, index: int, res: dict, recs: list[dict]) -> Switch:
    t1 = res["t1"] - res["t0"]
    met = None if res["tMet"] is None else res["tMet"] - res["t0"]
    s = Switch(kind, layer, index, None if res["timedOut"] else t1, met, bool(res["viaIdle"]))
    sent = {r["id"] for r in recs if r["dir"] == "s" and r["channel"] == "shell"}
    received = [r for r in recs if r["dir"] == "r"]
    idle_date = None
    for r in received:
        if r["type"] == "status" and r["parent"] in sent:
            if r["state"] == "busy" and s.to_kernel_ms is None:
                s.to_kernel_ms = r["date"]
            elif r["state"] == "idle":
                idle_date, s.idle_recv_ms = r["date"], r["t"]
    if idle_date is not None and s.to_kernel_ms is not None:
        s.python_ms = idle_date - s.to_kernel_ms
    if met is not None:
        s.last_msg_ms = max((r["t"] for r in received if r["t"] <= met), default=None)
    s.bytes_to_t1 = sum(r["bytes"] for r in received if r["t"] <= t1)
    s.msgs_to_t1 = sum(1 for r in received if r["t"] <= t1)
    s.bytes_all = sum(r["bytes"] for r in received)
    s.msgs_all = len(received)
    s.opens = sum(1 for r in received if r["type"] == "comm_open")
    s.closes = sum(1 for r in received if r["type"] == "comm_close")
    s.buffer_bytes = sum(sum(r["buffers"]) for r in received)
    s.records, s.epoch0 = recs, res["epoch0"]
    return s


# -- Chrome traces: what the page's main thread did between t0 and t1 --------------
TRACE_CATEGORIES = [
    "devtools.timeline",
    "disabled-by-default-devtools.timeline",
    "blink.user_timing",
    "v8",
]
_BUCKETS = {
    "script": (
        "FunctionCall",
        "EventDispatch",
        "TimerFire",
        "FireAnimationFrame",
        "RunMicrotasks",
        "EvaluateScript",
        "WebSocketReceive",
    ),
    "style+layout": (
        "UpdateLayoutTree",
        "ScheduleStyleRecalculation",
        "RecalculateStyles",
        "Layout",
        "InvalidateLayout",
        "UpdateLayerTree",
        "IntersectionObserverController::computeIntersections",
    ),
    "paint": (
        "Paint",
        "PrePaint",
        "Layerize",
        "Commit",
        "UpdateLayer",
        "PaintImage",
        "CompositeLayers",
        "BeginCommitCompositorFrame",
        "Decode Image",
        "ImageDecodeTask",
    ),
}
_BUCKET_OF = {name: bucket for bucket, names in _BUCKETS.items() for name in names}


def _bucket(name: str) -> str:
    if name in _BUCKET_OF:
        return _BUCKET_OF[name]
    if "GC" in name or "marking" in name or "scavenge" in name.lower():
        return "gc"
    if name.startswith(("v8.", "V8.")):
        return "script"
    return "other"


def trace_windows(data: bytes) -> list[dict]:
    """Per switch (between the page's nnw-switch-start / -end marks): the renderer main
    thread's busy wall time, its CPU time, and self time by kind of work, in ms."""
    doc = json.loads(data)
    events = doc["traceEvents"] if isinstance(doc, dict) else doc
    marks = [e for e in events if e.get("name") in ("nnw-switch-start", "nnw-switch-end")]
    if not marks:
        return []
    main = (marks[0]["pid"], marks[0]["tid"])
    starts = sorted(e["ts"] for e in marks if e["name"] == "nnw-switch-start")
    ends = sorted(e["ts"] for e in marks if e["name"] == "nnw-switch-end")
    spans = sorted(
        (e for e in events if e.get("ph") == "X" and "dur" in e and (e["pid"], e["tid"]) == main),
        key=lambda e: (e["ts"], -e["dur"]),
    )
    out = []
    for a, b in zip(starts, ends, strict=False):
        busy = cpu = 0.0
        self_time: dict[str, float] = {}
        stack: list[tuple[float, str]] = []  # (end, bucket) of the open spans
        for e in spans:
            if e["ts"] >= b or e["ts"] + e["dur"] <= a:
                continue
            while stack and stack[-1][0] <= e["ts"]:
                stack.pop()
            dur = min(e["ts"] + e["dur"], b) - max(e["ts"], a)
            bucket = _bucket(e["name"])
            if stack:
                parent = stack[-1][1]
                self_time[parent] = self_time.get(parent, 0.0) - dur
            else:
                busy += dur
                cpu += e.get("tdur", e["dur"]) * dur / e["dur"] if e["dur"] else 0.0
            self_time[bucket] = self_time.get(bucket, 0.0) + dur
            stack.append((e["ts"] + e["dur"], bucket))
        row = {"busy": busy / 1000, "cpu": cpu / 1000}
        row.update({k: v / 1000 for k, v in self_time.items()})
        out.append(row)
    return out


# -- servers and pages ------------------------------------------------------------
@contextlib.contextmanager
def voila(nb: Path, log_path: Path, timeout: float = 120.0):
    """Serve ``nb`` with this venv's Voila (kernel: this venv's python) until exit."""
    port = free_port()
    cmd = voila_command(nb, port)
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            cmd,
            cwd=nb.parent,
            env=kernel_env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + timeout
        while not port_open(port):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"voila did not start; see {log_path}:\n{log_tail(log_path)}")
            time.sleep(0.25)
        yield f"http://127.0.0.1:{port}/"
    finally:
        stop(proc)


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


# -- one model ----------------------------------------------------------------------
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


# -- the tables ---------------------------------------------------------------------
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", choices=["cnn", "mobilenet", "all"], default="all")
    parser.add_argument("--quick", action="store_true", help="5 switches of each kind")
    parser.add_argument("--repeat", type=int, help="switches of each kind (default 15)")
    parser.add_argument("--warmup", type=int, default=1, help="unmeasured rounds first")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per switch")
    parser.add_argument("--verbose", "-v", action="store_true", help="one line per switch")
    parser.add_argument(
        "--trace",
        type=Path,
        metavar="DIR",
        help="record Chrome traces of the switches into DIR and break the page's main "
        "thread time down (tracing slows the page a little)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (Voila logs)")
    args = parser.parse_args(argv)
    args.repeat = args.repeat or (5 if args.quick else 15)

    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        print("playwright is not installed (pip install -e '.[test]')", file=sys.stderr)
        return 2
    if not os.access(CHROMIUM, os.X_OK):
        print(f"no Chromium at {CHROMIUM} (set NNW_CHROMIUM)", file=sys.stderr)
        return 2
    keys = ["cnn", "mobilenet"] if args.model == "all" else [args.model]
    # every input step must be a first visit: the state caches the inputs it has run
    all_cases = cases(n_inputs=max(16, args.repeat + 2 * args.warmup + 2))
    workdir = Path(tempfile.mkdtemp(prefix="nnw-bench-browser-"))
    rows = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                for key in keys:
                    case = all_cases[key]
                    print(
                        f"{case.title}: {args.repeat} layer switches cycling over "
                        f"{', '.join(case.layers)}; {args.repeat} input steps on "
                        f"{case.input_layer}",
                        flush=True,
                    )
                    layers, inputs = run_case(browser, case, args, workdir)
                    rows += [(case, "layer", layers), (case, "input", inputs)]
            finally:
                browser.close()
    finally:
        if args.keep:
            print(f"notebooks and Voila logs kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    print()
    print_tables(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
