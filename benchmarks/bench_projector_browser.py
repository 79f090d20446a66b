"""Which bqplot mark for an embedding projector: SVG ``Scatter``, WebGL ``ScatterGL``
(bqplot-gl), or the points rasterised in Python to a PNG shown by an ``Image`` mark?

For each mark and N points (10,000 and 100,000, 10 classes), a generated notebook shows a
bqplot Figure (630 x 540 px plot area) with the mark (x, y float32, ``color`` = class
ids, uint8, with a 10-colour ``ColorScale``) and two Buttons: "layer switch" assigns the
next of three precomputed layouts (new x and y for every point, in one message:
``hold_sync``) and "recolour" assigns a new colour array (every point changes class
colour). For the Image mark both re-rasterise in the kernel (numpy, 3 x 3 px stamps, PNG
by Pillow at compress_level 1) and send the PNG as a new ipywidgets.Image (bqplot's Image
view does not redraw when its Image widget's value changes, only when the mark's
``image`` is another widget). One Voila (directory mode) serves the
notebooks; each is opened in its own page of headless Chromium (tests/browser_support.py's
CHROMIUM and CHROMIUM_ARGS, nothing added).

Measured in the page (``performance.now()``, from the button's ``click()``):

* SVG Scatter: a MutationObserver counts the points whose ``transform`` (switch) or
  ``style`` (recolour) changed; once all N did, the time is taken after the frame that
  paints them (a MessageChannel task posted in that frame runs after its rendering).
* ScatterGL: the WebGL calls are wrapped (before any page script). The redraw is the first
  instanced draw of >= N instances after >= 4N bytes of vertex data were uploaded
  (``bufferData``/``bufferSubData``) since the click; in a microtask right after that
  rAF callback a ``readPixels`` of one pixel forces the (SwiftShader) GPU to finish, then
  the time is taken after that frame's rendering, as above. "JS" is when that render's
  JavaScript was done (what a hardware GPU would add little to). ``--gl-wait frames``
  waits two more frames instead of reading a pixel: the same times and long tasks (the
  page's main thread waits for SwiftShader either way).
* Image: a MutationObserver waits for the ``<image>``'s new blob ``href``, then its
  ``decode()``, then the next frame's rendering.

First draw: navigation start to the points drawn (the same detections; for ScatterGL
the canvas is read back at that moment and its non-transparent pixels counted);
"data->drawn" is from the arrival of the largest WebSocket frame (the widget state with
the arrays) to the points drawn. Bytes: the WebSocket frames received by the page
(Playwright ``websocket`` -> ``framereceived`` payload sizes) from the click until the
kernel is idle after it and the socket quiet for 200 ms. "longest task": the longest
main-thread task (PerformanceObserver ``longtask``) during the update, how long the page
is frozen. "py ms": the kernel's button callback (assign + serialise + send; for Image
also the rasterising and the PNG).

At 10,000 points, for Scatter and ScatterGL, it also checks in the page: does clicking a
point reach ``on_element_click``; do a BrushSelector drag, a brush rectangle set from
Python, and a LassoSelector drag set the mark's ``selected`` (against the count of points
inside the brush; the SVG Scatter's count for the same lasso); do
``selected_style``/``unselected_style`` and ``opacities`` change the pixels (share of lime
pixels, mean ink of the plot area); does a transparent ``Image`` mark over the plot give
click coordinates (then the nearest point is found in Python: a click-to-pick
workaround). With ``--lab`` the ScatterGL notebook also runs in JupyterLab 4 (drawn, three
switches, the same checks).

Screenshots: /tmp/projector_<mark>_10000.png (and /tmp/projector_ScatterGL_lab.png).
Results are appended to tests/artifacts/bench_projector/browser.jsonl.

Run from the repository root::

    .venv/bin/python -m benchmarks.bench_projector_browser          # about 5 minutes
    .venv/bin/python -m benchmarks.bench_projector_browser --marks ScatterGL --sizes 10000 --lab

Needs voila, playwright (Python), bqplot-gl and Chromium at /usr/bin/chromium (or
$NNW_CHROMIUM).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks.browser.page import INIT_JS, voila
from tests.browser_support import CHROMIUM, CHROMIUM_ARGS

MARKS = ("Scatter", "ScatterGL", "Image")
SIZES = (10_000, 100_000)
OPS = ("switch", "recolour")
SHOTS = Path("/tmp")
OUT = Path(__file__).resolve().parents[1] / "tests" / "artifacts" / "bench_projector"

# -- the notebook ---------------------------------------------------------------------
NOTEBOOK_CODE = r'''
import io, json, time
import numpy as np
import ipywidgets as W
import bqplot as bq
from bqplot_gl import ScatterGL
from PIL import Image as PILImage

KIND, N, C = __KIND__, __N__, 10
COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
          "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]
PALETTE = np.array([[int(c[i:i + 2], 16) for i in (1, 3, 5)] + [255] for c in COLORS], np.uint8)
WPX, HPX = 630, 540  # the plot area: 700 x 600 figure minus the margins below
rng = np.random.default_rng(0)
labels = rng.integers(0, C, N).astype(np.uint8)


def layout(seed):
    """A 'layer': the classes as Gaussian blobs, somewhere else for each layer."""
    r = np.random.default_rng(seed)
    xy = r.normal(0, 4, (C, 2))[labels] + r.normal(0, 1.2, (N, 2))
    return xy[:, 0].astype(np.float32), xy[:, 1].astype(np.float32)


LAYERS = [layout(s) for s in (1, 2, 3)]
state = {"layer": 0, "shift": 0}
x, y = LAYERS[0]
colour = labels.copy()

sx, sy = bq.LinearScale(), bq.LinearScale()
sc = bq.ColorScale(colors=COLORS, min=0, max=C - 1)


def raster(x, y, colour):
    """The points as 3 x 3 px squares on a transparent WPX x HPX PNG, last on top."""
    x0, x1, y0, y1 = float(x.min()), float(x.max()), float(y.min()), float(y.max())
    ix = 1 + ((x - x0) * ((WPX - 3) / (x1 - x0))).astype(np.int32)
    iy = 1 + ((y1 - y) * ((HPX - 3) / (y1 - y0))).astype(np.int32)
    img = np.zeros((HPX, WPX, 4), np.uint8)
    rgba = PALETTE[colour]
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            img[iy + dy, ix + dx] = rgba
    buf = io.BytesIO()
    PILImage.fromarray(img, "RGBA").save(buf, "png", compress_level=1)
    return buf.getvalue(), np.array([x0, x1]), np.array([y0, y1])


if KIND == "Image":
    png, ix_, iy_ = raster(x, y, colour)
    picture = W.Image(value=png, format="png")
    mark = bq.Image(image=picture, x=ix_, y=iy_, scales={"x": sx, "y": sy})
else:
    cls = ScatterGL if KIND == "ScatterGL" else bq.Scatter
    mark = cls(x=x, y=y, color=colour, scales={"x": sx, "y": sy, "color": sc},
               default_size=9, stroke=None, marker="circle")
fig = bq.Figure(
    marks=[mark],
    axes=[bq.Axis(scale=sx), bq.Axis(scale=sy, orientation="vertical")],
    fig_margin=dict(top=20, bottom=40, left=50, right=20),
    animation_duration=0,
    layout=W.Layout(width="700px", height="600px"),
)
py = W.HTML("")
py.add_class("proj-py")


def show_image():
    """bqplot's Image view redraws when the mark's ``image`` is another widget, not when
    that widget's value changes: a new ipywidgets.Image each time."""
    global picture
    png, ix_, iy_ = raster(x, y, colour)
    old, picture = picture, W.Image(value=png, format="png")
    with mark.hold_sync():
        mark.image = picture
        mark.x, mark.y = ix_, iy_
    old.close()


def on_switch(_):
    global x, y
    t = time.perf_counter()
    state["layer"] = (state["layer"] + 1) % len(LAYERS)
    x, y = LAYERS[state["layer"]]
    if KIND == "Image":
        show_image()
    else:
        with mark.hold_sync():
            mark.x, mark.y = x, y
    py.value = f"{(time.perf_counter() - t) * 1000:.1f}"


def on_recolour(_):
    global colour
    t = time.perf_counter()
    state["shift"] = (state["shift"] + 1) % C  # every point changes colour
    colour = ((labels + state["shift"]) % C).astype(np.uint8)
    if KIND == "Image":
        show_image()
    else:
        mark.color = colour
    py.value = f"{(time.perf_counter() - t) * 1000:.1f}"


buttons = []
for name, fn in (("switch", on_switch), ("recolour", on_recolour)):
    b = W.Button(description=name)
    b.add_class(f"proj-{name}")
    b.on_click(fn)
    buttons.append(b)

# -- the interaction checks (Scatter, ScatterGL) -------------------------------------
status = W.HTML("{}")
status.add_class("proj-status")
ev = {"click": [], "background": 0, "expected": None, "selector": None, "pick": None}


def show(*_):
    sel = mark.selected if KIND != "Image" else None
    status.value = json.dumps({**ev, "selected": None if sel is None else int(len(sel))})


def check_prep(_):
    """Fixed square domains; point 0 alone at the centre (0, 0); the first colours."""
    global x, y
    x, y = LAYERS[0][0].copy(), LAYERS[0][1].copy()
    near = (np.abs(x) < 1.5) & (np.abs(y) < 1.5)
    x[near] += 4
    x[0] = y[0] = 0
    with sx.hold_sync(), sy.hold_sync():
        sx.min, sx.max, sy.min, sy.max = -15.0, 15.0, -15.0, 15.0
    with mark.hold_sync():
        mark.x, mark.y, mark.color = x, y, labels
    show()


def brush_changed(change):
    b = fig.interaction
    sel_x, sel_y = np.asarray(b.selected_x), np.asarray(b.selected_y)
    if sel_x.size == 2 and sel_y.size == 2:
        inside = ((x >= sel_x.min()) & (x <= sel_x.max()) & (y >= sel_y.min()) & (y <= sel_y.max()))
        ev["expected"] = int(inside.sum())
    show()


def check_brush(_):
    mark.selected = None
    brush = bq.interacts.BrushSelector(x_scale=sx, y_scale=sy, marks=[mark])
    brush.observe(brush_changed, ["selected_x", "selected_y"])
    ev.update(selector="brush", expected=None)
    fig.interaction = brush
    show()


def check_brush_set(_):
    """The brush's rectangle set from Python: the mark's selection without a mouse drag."""
    with fig.interaction.hold_sync():
        fig.interaction.selected_x = np.array([-6.0, 3.0])
        fig.interaction.selected_y = np.array([-3.0, 6.0])


def check_lasso(_):
    mark.selected = None
    ev.update(selector="lasso", expected=None)
    fig.interaction = bq.interacts.LassoSelector(x_scale=sx, y_scale=sy, marks=[mark])
    show()


def check_style(_):
    fig.interaction = None
    with mark.hold_sync():
        mark.selected_style = {"fill": "lime"}
        mark.unselected_style = {"opacity": 0.1}
        mark.selected = np.arange(0, N, 2, dtype=np.uint32)
    ev["selector"] = "style"
    show()


def check_pick(_):
    """A transparent Image mark over the plot: its clicks carry data coordinates; the
    nearest point is found in Python (a click-to-pick workaround for ScatterGL)."""
    clear = io.BytesIO()
    PILImage.new("RGBA", (1, 1), (0, 0, 0, 0)).save(clear, "png")
    overlay = bq.Image(image=W.Image(value=clear.getvalue(), format="png"),
                       x=np.array([-15.0, 15.0]), y=np.array([-15.0, 15.0]),
                       scales={"x": sx, "y": sy})

    def picked(m, c):
        d = c.get("data") or {}
        i = int(np.argmin((x - d["click_x"]) ** 2 + (y - d["click_y"]) ** 2))
        ev["pick"] = {"index": i, "click": [round(d["click_x"], 3), round(d["click_y"], 3)]}
        show()

    overlay.on_element_click(picked)
    fig.marks = [mark, overlay]
    ev["selector"] = "pick"
    show()


def check_opacities(_):
    with mark.hold_sync():
        mark.selected = None
        mark.selected_style, mark.unselected_style = {}, {}
        mark.opacities = [0.15]
    ev["selector"] = "opacities"
    show()


checks = []
if KIND != "Image":
    mark.on_element_click(
        lambda m, c: (ev["click"].append(c.get("data")), show())
    )
    mark.on_background_click(lambda *a: (ev.update(background=ev["background"] + 1), show()))
    mark.observe(show, "selected")
    for name, fn in (("prep", check_prep), ("brush", check_brush), ("brush-set", check_brush_set),
                     ("lasso", check_lasso), ("style", check_style), ("opacities", check_opacities),
                     ("pick", check_pick)):
        b = W.Button(description=name)
        b.add_class(f"proj-check-{name}")
        b.on_click(fn)
        checks.append(b)

display(W.VBox([fig, W.HBox(buttons + [py]), W.HBox(checks), status]))
'''


def notebook(kind: str, n: int) -> dict:
    code = NOTEBOOK_CODE.replace("__KIND__", repr(kind)).replace("__N__", str(n))
    cell = {"cell_type": "code", "execution_count": None, "id": "p", "metadata": {}}
    return {
        "cells": [{**cell, "outputs": [], "source": code.strip() + "\n"}],
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


# -- the page's side --------------------------------------------------------------------
# Installed before any page script, after window.__projCfg = {kind, n}.
PROJ_JS = r"""
(() => {
  const cfg = window.__projCfg;
  const N = cfg.n;
  const P = (window.__proj = { first: null, firstInk: null, gl: null, armed: null,
                               longtasks: [], inFrame: false, maxInstances: 0 });
  try {
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) P.longtasks.push([e.startTime, e.duration]);
    }).observe({ type: "longtask", buffered: true });
  } catch (e) { /* no longtask timing */ }

  // inFrame: from a frame's first rAF callback until after that frame's rendering, so
  // that "after the paint" is this frame's end or, outside a frame, the next one's.
  const nativeRaf = window.requestAnimationFrame.bind(window);
  const endFrame = new MessageChannel();
  endFrame.port1.onmessage = () => { P.inFrame = false; };
  window.requestAnimationFrame = (cb) => nativeRaf((t) => {
    if (!P.inFrame) { P.inFrame = true; endFrame.port2.postMessage(0); }
    cb(t);
  });
  const afterPaint = (done) => {
    const go = () => {
      const ch = new MessageChannel();
      ch.port1.onmessage = () => done(performance.now());
      ch.port2.postMessage(0);
    };
    if (P.inFrame) go(); else window.requestAnimationFrame(go);
  };
  P.afterPaint = afterPaint;

  // -- WebGL: uploads and instanced draws ------------------------------------------------
  const onDraw = (instances) => {
    P.maxInstances = Math.max(P.maxInstances, instances);
    if (instances < N) return;
    if (P.first === null && !P.firstPending) {
      P.firstPending = true;
      const gl = P.gl;
      queueMicrotask(() => {  // after the render, before the frame is presented
        const w = gl.drawingBufferWidth, h = gl.drawingBufferHeight;
        const px = new Uint8Array(w * h * 4);
        gl.readPixels(0, 0, w, h, gl.RGBA, gl.UNSIGNED_BYTE, px);
        let ink = 0;
        for (let i = 3; i < px.length; i += 4) if (px[i] > 0) ink++;
        P.firstInk = { ink, w, h };
        afterPaint((t) => { P.first = t; });
      });
    }
    const a = P.armed;
    if (a && a.uploaded >= 4 * N) {
      P.armed = null;
      const gl = P.gl;
      queueMicrotask(() => {
        a.tDraw = performance.now();  // the render's JavaScript is done
        if (cfg.glWait === "frames") {  // two more frames: the GPU must have presented
          nativeRaf(() => nativeRaf(() => afterPaint(a.done)));
        } else {
          gl.readPixels(0, 0, 1, 1, gl.RGBA, gl.UNSIGNED_BYTE, new Uint8Array(4));  // GPU done
          afterPaint(a.done);
        }
      });
    }
  };
  const G = WebGLRenderingContext.prototype;
  for (const name of ["bufferData", "bufferSubData"]) {
    const orig = G[name];
    const at = name === "bufferData" ? 1 : 2;  // bufferSubData(target, offset, data, ...)
    G[name] = function (...args) {
      P.gl = this;
      const data = args[at];
      if (P.armed && data && typeof data === "object") P.armed.uploaded += data.byteLength || 0;
      return orig.apply(this, args);
    };
  }
  const getExtension = G.getExtension;
  G.getExtension = function (name) {
    const ext = getExtension.call(this, name);
    if (ext && name === "ANGLE_instanced_arrays" && !ext.__wrapped) {
      ext.__wrapped = true;
      const de = ext.drawElementsInstancedANGLE.bind(ext);
      const da = ext.drawArraysInstancedANGLE.bind(ext);
      ext.drawElementsInstancedANGLE = (m, c, t, o, n) => { de(m, c, t, o, n); onDraw(n); };
      ext.drawArraysInstancedANGLE = (m, f, c, n) => { da(m, f, c, n); onDraw(n); };
    }
    return ext;
  };

  // -- first draw of the SVG scatter / the image -----------------------------------------
  const figure = () => document.querySelector(".bqplot.figure");
  const poll = () => {
    if (P.first !== null || P.firstPending) return;
    const fig = figure();
    if (cfg.kind === "Scatter" && fig) {
      const g = fig.querySelector("g.object_grp");
      const parent = g && g.parentNode;
      const last = parent && parent.lastElementChild;
      if (parent && parent.childElementCount >= N && last.hasAttribute("transform")
          && last.querySelector("path.dot")?.style.fill) {
        P.firstPending = true;
        afterPaint((t) => { P.first = t; });
        return;
      }
    }
    if (cfg.kind === "Image" && fig) {
      const im = fig.querySelector("image");
      const href = im && (im.getAttribute("href") || "");
      if (href.startsWith("blob:")) {
        P.firstPending = true;
        (im.decode ? im.decode() : Promise.resolve()).catch(() => {})
          .then(() => afterPaint((t) => { P.first = t; }));
        return;
      }
    }
    nativeRaf(poll);
  };
  if (cfg.kind !== "ScatterGL") nativeRaf(poll);

  // -- one update: click a button, resolve when it is on screen --------------------------
  P.measure = (op, timeoutMs) => new Promise((resolve) => {
    const fig = figure();
    const t0 = performance.now();
    let done = false, mo = null;
    const finish = (t, how, drawnAt = null) => {
      if (done) return;
      done = true;
      if (mo) mo.disconnect();
      P.armed = null;
      resolve({ t0, t1: t, ms: t === null ? null : t - t0, how,
                toDraw: drawnAt === null ? null : drawnAt - t0 });
    };
    if (cfg.kind === "Scatter") {
      const attr = op === "switch" ? "transform" : "style";
      const cls = op === "switch" ? "object_grp" : "dot";
      const seen = new Set();
      mo = new MutationObserver((recs) => {
        for (const r of recs) if (r.target.classList.contains(cls)) seen.add(r.target);
        if (seen.size >= N) { mo.disconnect(); afterPaint((t) => finish(t, "all points")); }
      });
      mo.observe(fig, { subtree: true, attributes: true, attributeFilter: [attr] });
    } else if (cfg.kind === "ScatterGL") {
      const a = (P.armed = { uploaded: 0, tDraw: null });
      a.done = (t) => finish(t, "drawn", a.tDraw);
    } else {
      const im = fig.querySelector("image");
      const before = im.getAttribute("href");
      mo = new MutationObserver(() => {
        if (im.getAttribute("href") === before) return;
        mo.disconnect();
        (im.decode ? im.decode() : Promise.resolve()).catch(() => {})
          .then(() => afterPaint((t) => finish(t, "decoded")));
      });
      mo.observe(im, { attributes: true, attributeFilter: ["href"] });
    }
    document.querySelector("button.proj-" + op).click();
    setTimeout(() => finish(null, "timeout"), timeoutMs);
  });

  P.longest = (t0, t1) => {
    const inside = P.longtasks.filter(([s, d]) => s + d > t0 && s < t1);
    return inside.length ? Math.max(...inside.map(([, d]) => d)) : 0;
  };
})();
"""


class Page:
    """One notebook's page: the bytes received, the kernel settled, the updates timed."""

    def __init__(self, browser, kind: str, n: int, viewport=(1000, 800), gl_wait="readpixels"):
        self.kind, self.n = kind, n
        self.context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]})
        self.page = self.context.new_page()
        self.page.set_default_timeout(60_000)
        self.errors: list[str] = []
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on(
            "console",
            lambda m: self.errors.append(m.text) if m.type == "error" else None,
        )
        self.page.add_init_script(INIT_JS)  # window.__nnwBench: the WebSocket log, settled()
        cfg = json.dumps({"kind": kind, "n": n, "glWait": gl_wait})
        self.page.add_init_script(f"window.__projCfg = {cfg};\n{PROJ_JS}")
        self.ws_bytes = 0
        self.ws_frames = 0
        self.page.on("websocket", self._on_websocket)

    def _on_websocket(self, ws) -> None:
        def count(payload):
            self.ws_bytes += len(payload.encode() if isinstance(payload, str) else payload)
            self.ws_frames += 1

        ws.on("framereceived", count)

    def close(self) -> None:
        self.context.close()

    def first_draw(self, url: str, timeout_ms: int = 300_000) -> dict:
        self.page.goto(url, timeout=timeout_ms, wait_until="commit")
        self.page.wait_for_function(
            "() => window.__proj && window.__proj.first !== null", timeout=timeout_ms, polling=100
        )
        first = self.page.evaluate("() => window.__proj.first")
        recs = self.page.evaluate("() => window.__nnwBench.records(0, 0)")
        received = [r for r in recs if r["dir"] == "r"]
        biggest = max(received, key=lambda r: r["bytes"]) if received else None
        self.settle(500)
        return {
            "first_ms": first,
            "data_to_drawn_ms": first - biggest["t"] if biggest else None,
            "state_bytes": biggest["bytes"] if biggest else None,
            "ink": self.page.evaluate("() => window.__proj.firstInk"),
        }

    def settle(self, quiet_ms: int = 200) -> None:
        """Until the kernel is idle after what was sent and no frame came for quiet_ms."""
        if self.page.evaluate("() => window.__nnwBench.count()"):
            with contextlib.suppress(Exception):
                self.page.wait_for_function(
                    "q => window.__nnwBench.settled(q)", arg=quiet_ms, polling=50, timeout=120_000
                )
        self.page.wait_for_timeout(50)

    def forget(self) -> None:
        self.page.evaluate("() => window.__nnwBench.clear()")
        self.ws_bytes = self.ws_frames = 0

    def update(self, op: str, timeout_ms: int = 60_000) -> dict:
        self.forget()
        res = self.page.evaluate("([op, t]) => window.__proj.measure(op, t)", [op, timeout_ms])
        self.settle()
        longest = self.page.evaluate(
            "([a, b]) => window.__proj.longest(a, b)", [res["t0"], res["t1"] or res["t0"]]
        )
        py = self.page.inner_text(".proj-py").strip()
        recs = self.page.evaluate("t0 => window.__nnwBench.records(t0, 0)", res["t0"])
        received = [r for r in recs if r["dir"] == "r"]
        biggest = max(received, key=lambda r: r["bytes"]) if received else None
        return {
            "ms": res["ms"],
            "how": res["how"],
            "bytes": self.ws_bytes,
            "frames": self.ws_frames,
            # when the update's message (the largest frame) reached the page
            "msg_ms": biggest["t"] if biggest else None,
            # ScatterGL: when the render's JavaScript was done (before waiting for the GPU)
            "to_draw_ms": res["toDraw"],
            "longest_task_ms": longest,
            "py_ms": float(py) if py else None,
        }

    def figure_shot(self, path: Path) -> Path:
        self.page.locator(".bqplot.figure").first.screenshot(path=str(path))
        return path


# -- interaction checks -----------------------------------------------------------------
def _status(page) -> dict:
    return json.loads(page.inner_text(".proj-status") or "{}")


def _press(page, name: str, until: str) -> dict:
    """Click a check button; wait until the status satisfies ``until`` (JS, s = status)."""
    page.click(f"button.proj-check-{name}")
    with contextlib.suppress(Exception):
        page.wait_for_function(
            f"""() => {{ const s = JSON.parse(
                 document.querySelector('.proj-status').innerText || '{{}}'); return {until}; }}""",
            timeout=10_000,
        )
    page.wait_for_timeout(600)  # let the page redraw
    return _status(page)


def _plot_box(page) -> dict:
    """The plot area in page pixels (the figure's plotarea background rectangle)."""
    return page.evaluate(
        """() => { const f = document.querySelector('.bqplot.figure');
                   const r = (f.querySelector('.plotarea_background') || f.querySelector('.plotarea_events')
                             ).getBoundingClientRect();
                   return {x: r.x, y: r.y, width: r.width, height: r.height}; }"""
    )


def _drag(page, box: dict, points: list[tuple[float, float]]) -> None:
    at = [(box["x"] + fx * box["width"], box["y"] + fy * box["height"]) for fx, fy in points]
    page.mouse.move(*at[0])
    page.mouse.down()
    for p in at[1:]:
        page.mouse.move(*p, steps=8)
    page.mouse.up()


def _pixels(page, box: dict) -> dict:
    """Of the plot area: the share of 'lime' pixels and the mean ink (1 - grey level)."""
    import numpy as np
    from PIL import Image

    png = page.screenshot(clip=box)
    px = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.float32)
    r, g, b = px[..., 0], px[..., 1], px[..., 2]
    lime = float(((g > 220) & (r < 60) & (b < 60)).mean())
    ink = 1 - float(px.mean()) / 255
    return {"lime": round(lime, 4), "ink": round(ink, 4)}


def interaction_checks(p: Page) -> dict:
    page = p.page
    out: dict = {}
    _press(page, "prep", "s.selected === null")
    box = _plot_box(page)
    out["baseline"] = _pixels(page, box)
    # a click on point 0, alone at the centre of the plot area
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.wait_for_timeout(1500)
    s = _status(page)
    out["click"] = {"element_click": s.get("click"), "background_clicks": s.get("background")}
    s = _press(page, "brush", "s.selector === 'brush'")
    _drag(page, box, [(0.25, 0.25), (0.45, 0.45), (0.6, 0.6)])
    with contextlib.suppress(Exception):
        page.wait_for_function(
            """() => { const s = JSON.parse(document.querySelector('.proj-status').innerText);
                       return s.selected !== null && s.expected !== null; }""",
            timeout=3_000,
        )
    page.wait_for_timeout(500)
    s = _status(page)
    out["brush_drag"] = {"selected": s.get("selected"), "points_inside": s.get("expected")}
    s = _press(page, "brush-set", "s.selected !== null && s.expected !== null")
    out["brush_set_from_python"] = {
        "selected": s.get("selected"),
        "points_inside": s.get("expected"),
    }
    _press(page, "lasso", "s.selector === 'lasso'")
    _drag(page, box, [(0.3, 0.3), (0.7, 0.3), (0.7, 0.7), (0.3, 0.7), (0.31, 0.31)])
    with contextlib.suppress(Exception):
        page.wait_for_function(
            "() => JSON.parse(document.querySelector('.proj-status').innerText).selected !== null",
            timeout=8_000,
        )
    page.wait_for_timeout(800)
    out["lasso"] = {"selected": _status(page).get("selected")}
    _press(page, "style", "s.selector === 'style'")
    page.wait_for_timeout(800)
    out["styles"] = _pixels(page, box)  # half selected: lime; the rest: opacity 0.1
    _press(page, "opacities", "s.selector === 'opacities'")
    page.wait_for_timeout(800)
    out["opacities"] = _pixels(page, box)  # all at opacity 0.15
    _press(page, "pick", "s.selector === 'pick'")
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    with contextlib.suppress(Exception):
        page.wait_for_function(
            "() => JSON.parse(document.querySelector('.proj-status').innerText).pick !== null",
            timeout=8_000,
        )
    out["pick_via_image_overlay"] = _status(page).get("pick")
    return out


# -- JupyterLab --------------------------------------------------------------------------
def lab_check(browser, n: int = 10_000) -> dict:
    """The ScatterGL notebook run in JupyterLab 4: drawn? one layer switch timed."""
    from tests.test_jupyterlab import jupyterlab, run_all_cells

    with (
        tempfile.TemporaryDirectory() as tmp,
        jupyterlab(Path(tmp), log_name="bench_projector_lab.log") as base,
    ):
        name = f"projector_ScatterGL_{n}.ipynb"
        (Path(tmp) / "root" / name).write_text(json.dumps(notebook("ScatterGL", n)))
        p = Page(browser, "ScatterGL", n, viewport=(1400, 1000))
        try:
            page = p.page
            start = time.monotonic()
            page.goto(f"{base}/lab/tree/{name}", timeout=180_000)
            page.wait_for_selector(".jp-NotebookPanel .jp-CodeCell", timeout=180_000)
            page.wait_for_function(
                "() => /\\|\\s*Idle/.test(document.querySelector('#jp-main-statusbar')?.innerText || '')",
                timeout=180_000,
                polling=250,
            )
            page.wait_for_timeout(1000)
            how = run_all_cells(page)
            page.wait_for_function("() => window.__proj.first !== null", timeout=180_000)
            took = time.monotonic() - start
            ink = page.evaluate("() => window.__proj.firstInk")
            p.settle(500)
            page.locator(".bqplot.figure").first.scroll_into_view_if_needed()
            shot = p.figure_shot(SHOTS / "projector_ScatterGL_lab.png")
            switch = [p.update("switch") for _ in range(3)]
            checks = interaction_checks(p)
            return {
                "ran_by": how,
                "seconds_to_drawn": round(took, 1),
                "ink": ink,
                "switch_ms": [round(s["ms"]) if s["ms"] else None for s in switch],
                "checks": checks,
                "screenshot": str(shot),
                "page_errors": p.errors[:5],
            }
        finally:
            p.close()


# -- the run -------------------------------------------------------------------------------
def run_config(
    browser, base: str, kind: str, n: int, reps: int, checks: bool, gl_wait: str
) -> dict:
    p = Page(browser, kind, n, gl_wait=gl_wait)
    try:
        url = f"{base}voila/render/projector_{kind}_{n}.ipynb"
        result = {"mark": kind, "n": n, **p.first_draw(url)}
        if n == 10_000:
            result["screenshot"] = str(p.figure_shot(SHOTS / f"projector_{kind}_{n}.png"))
        for op in OPS:
            runs = [p.update(op) for _ in range(reps)]
            done = [r["ms"] for r in runs if r["ms"] is not None]
            result[op] = {
                "median_ms": statistics.median(done) if done else None,
                "max_ms": max(done) if done else None,
                "all_ms": [None if t is None else round(t) for t in (r["ms"] for r in runs)],
                "timeouts": len(runs) - len(done),
                **{
                    key: _median(r[key] for r in runs)
                    for key in (
                        "bytes",
                        "frames",
                        "msg_ms",
                        "to_draw_ms",
                        "longest_task_ms",
                        "py_ms",
                    )
                },
                "how": sorted({r["how"] for r in runs}),
            }
        if checks and kind != "Image" and n == 10_000:
            result["checks"] = interaction_checks(p)
        result["page_errors"] = p.errors[:5]
        return result
    finally:
        p.close()


def _median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def _fmt(v, spec=".0f"):
    return format(v, spec) if isinstance(v, (int, float)) else "-"


def print_table(results: list[dict]) -> None:
    """A Markdown table. 'msg' is when the update's message reached the page, 'JS' when
    ScatterGL's render had run (the rest is the GPU, SwiftShader here), both from the click."""
    cols = [
        "mark",
        "N",
        "first draw ms",
        "data->drawn ms",
        "switch ms (max)",
        "switch msg / JS ms",
        "recolour ms (max)",
        "recolour msg / JS ms",
        "bytes/switch",
        "bytes/recolour",
        "longest task sw / rc ms",
        "kernel ms sw / rc",
    ]
    print("\n| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    for r in results:
        sw, rc = r["switch"], r["recolour"]
        row = [
            r["mark"],
            f"{r['n']:,}",
            _fmt(r["first_ms"]),
            _fmt(r["data_to_drawn_ms"]),
            f"{_fmt(sw['median_ms'])} ({_fmt(sw['max_ms'])})",
            f"{_fmt(sw['msg_ms'])} / {_fmt(sw['to_draw_ms'])}",
            f"{_fmt(rc['median_ms'])} ({_fmt(rc['max_ms'])})",
            f"{_fmt(rc['msg_ms'])} / {_fmt(rc['to_draw_ms'])}",
            _fmt(sw["bytes"], ",.0f"),
            _fmt(rc["bytes"], ",.0f"),
            f"{_fmt(sw['longest_task_ms'])} / {_fmt(rc['longest_task_ms'])}",
            f"{_fmt(sw['py_ms'], '.1f')} / {_fmt(rc['py_ms'], '.1f')}",
        ]
        print("| " + " | ".join(row) + " |")
    print()
    for r in results:
        if "checks" in r:
            print(f"{r['mark']} {r['n']:,} checks: {json.dumps(r['checks'])}")
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--marks", default=",".join(MARKS))
    parser.add_argument("--sizes", default=",".join(str(s) for s in SIZES))
    parser.add_argument("--reps", type=int, default=5, help="updates per operation (10,000)")
    parser.add_argument("--reps-large", type=int, default=3, help="updates per op (100,000)")
    parser.add_argument("--no-checks", action="store_true", help="skip the interaction checks")
    parser.add_argument("--lab", action="store_true", help="also run ScatterGL in JupyterLab")
    parser.add_argument(
        "--gl-wait",
        choices=["readpixels", "frames"],
        default="readpixels",
        help="ScatterGL's end: a 1-pixel readPixels after the draw (GPU done), or two more "
        "animation frames without it (a cross-check: the same times, the same long tasks)",
    )
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    marks = [m.strip() for m in args.marks.split(",") if m.strip()]
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    OUT.mkdir(parents=True, exist_ok=True)
    results = []
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as pw:
        work = Path(tmp) / "notebooks"
        work.mkdir()
        for kind in marks:
            for n in sizes:
                nb = notebook(kind, n)
                (work / f"projector_{kind}_{n}.ipynb").write_text(json.dumps(nb))
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            with voila(work, OUT / "voila.log", timeout=120) as base:
                for n in sizes:
                    for kind in marks:
                        reps = args.reps if n <= 10_000 else args.reps_large
                        r = run_config(
                            browser, base, kind, n, reps, not args.no_checks, args.gl_wait
                        )
                        results.append(r)
                        print(json.dumps(r), flush=True)
                        with open(OUT / "browser.jsonl", "a") as f:
                            f.write(json.dumps({"when": time.time(), **r}) + "\n")
            print_table(results)
            if args.lab:
                lab = lab_check(browser)
                print("JupyterLab 4, ScatterGL 10,000:", json.dumps(lab), flush=True)
                with open(OUT / "browser.jsonl", "a") as f:
                    f.write(json.dumps({"when": time.time(), "lab": lab}) + "\n")
        finally:
            browser.close()
    print(f"({time.monotonic() - started:.0f} s)")


if __name__ == "__main__":
    main()
