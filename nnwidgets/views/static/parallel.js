// nnwidgets ParallelCoordinates: runs as lines across parallel axes, drawn in SVG.
// Axes, positions (0..1 along each axis), colours and what passes are worked out in
// Python (nnwidgets/views/parallel.py); this file draws them and lets one brush an axis:
// drag along it to send {brush: key, range: [lo, hi] | [category, ...]} in data units
// (the scale inverted, log too); a click without a drag sends {brush: key, range: null}.
// No library, no network: it works offline and in Voila.

const NS = "http://www.w3.org/2000/svg";

function svgEl(name, attrs, parent) {
  const el = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, v);
  if (parent) parent.appendChild(el);
  return el;
}

const CHAR_PX = 7;  // about the width of a 12px character
const textWidth = (s) => String(s).length * CHAR_PX;

function render({ model, el }) {
  el.classList.add("nnw-parallel");
  el.style.minWidth = "0";
  el.style.maxWidth = "100%";
  const style = document.createElement("style");
  style.textContent = `
    .nnw-parallel { font-family: var(--jp-ui-font-family, sans-serif); font-size:12px;
      color:var(--jp-ui-font-color0, #222); }
    .nnw-parallel .head { color:var(--jp-ui-font-color0, #222); display:flex; flex-wrap:wrap; align-items:center; gap:4px 14px;
      margin-bottom:4px; min-height:18px; }
    .nnw-parallel .legend { display:flex; align-items:center; gap:6px; }
    .nnw-parallel .legend b { font-weight:600; }
    .nnw-parallel .legend .bar { width:120px; height:10px; border-radius:2px;
      border:1px solid rgba(128,128,128,.4); }
    .nnw-parallel .note { color:var(--jp-ui-font-color1, #444); }
    .nnw-parallel svg { display:block; width:100%; box-sizing:border-box; background:var(--jp-layout-color0, #fff);
      border:1px solid rgba(128,128,128,.3); user-select:none; touch-action:none; }
    .nnw-parallel text { font-size:12px; fill:var(--jp-ui-font-color0, #222);
      paint-order:stroke; stroke:var(--jp-layout-color0, #fff); stroke-width:3px;
      stroke-linejoin:round; pointer-events:none; }
    .nnw-parallel text.title { font-weight:600; }
    .nnw-parallel text.tick { fill:var(--jp-ui-font-color1, #333); }
    .nnw-parallel text.na { font-style:italic; fill:var(--jp-ui-font-color2, #666); }
    .nnw-parallel line.axis { stroke:var(--jp-ui-font-color2, #777); stroke-width:1.2; }
    .nnw-parallel line.mark { stroke:var(--jp-ui-font-color2, #777); stroke-width:1; }
    .nnw-parallel rect.hit { fill:transparent; cursor:ns-resize; }
    .nnw-parallel rect.band { fill:rgba(59,120,194,.22); stroke:#3b78c2; stroke-width:1.2;
      pointer-events:none; }
    .nnw-parallel path.line { fill:none; stroke-width:1.6; stroke-opacity:.85;
      stroke-linejoin:round; }
    .nnw-parallel path.line:hover { stroke-width:3.5; stroke-opacity:1; }
    .nnw-parallel path.line.dim { stroke:#9aa0a6 !important; stroke-width:1; stroke-opacity:.35; }
    .nnw-parallel path.line.hidden { stroke-opacity:.08; pointer-events:none; }
  `;
  el.appendChild(style);
  const head = document.createElement("div");
  head.className = "head";
  el.appendChild(head);
  const legend = document.createElement("span");
  legend.className = "legend";
  head.appendChild(legend);
  const note = document.createElement("span");
  note.className = "note";
  head.appendChild(note);
  const svg = svgEl("svg", { class: "nnw-parallel-svg" });
  el.appendChild(svg);

  let geometry = null;  // {xs, top, bottom, na, axes}
  let brushing = null;  // {key, axis, x, y0, y1, band}

  const tOf = (geometry, y) => {
    const { top, bottom } = geometry;
    return Math.min(1, Math.max(0, (bottom - y) / (bottom - top)));
  };

  // data value -> 0..1 along a numeric axis, and back (log when the axis is)
  function forward(axis, v) {
    const [lo, hi] = axis.domain;
    if (axis.log) return (Math.log(v) - Math.log(lo)) / (Math.log(hi) - Math.log(lo));
    return (v - lo) / (hi - lo);
  }
  function invert(axis, t) {
    const [lo, hi] = axis.domain;
    if (axis.log) return Math.exp(Math.log(lo) + t * (Math.log(hi) - Math.log(lo)));
    return lo + t * (hi - lo);
  }

  function drawLegend() {
    const lg = model.get("legend") || {};
    legend.replaceChildren();
    if (!lg.title) return;
    const title = document.createElement("b");
    title.textContent = `colour: ${lg.title}${lg.log ? " (log)" : ""}`;
    const lo = document.createElement("span");
    lo.className = "min";
    lo.textContent = lg.min;
    const bar = document.createElement("span");
    bar.className = "bar";
    bar.style.background = `linear-gradient(to right, ${lg.stops.join(", ")})`;
    const hi = document.createElement("span");
    hi.className = "max";
    hi.textContent = lg.max;
    legend.append(title, lo, bar, hi);
  }

  function draw() {
    const axes = model.get("axes") || [];
    const lines = model.get("lines") || [];
    note.textContent = model.get("note") || "";
    drawLegend();
    const width = Math.max(svg.clientWidth || el.clientWidth || 640, 240);
    const height = model.get("height_px");
    svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
    svg.setAttribute("width", "100%");
    svg.style.height = `${height + 2}px`;  // (border-box: the 1px borders)
    svg.replaceChildren();
    if (!axes.length) { geometry = null; return; }

    // room for the first axis' labels (left of it) and the titles at both ends
    const labels0 = Math.max(0, ...axes[0].ticks.map(([, s]) => textWidth(s)));
    const left = Math.min(Math.max(labels0 + 14, textWidth(axes[0].title) / 2 + 6, 30), width / 3);
    const right = Math.min(Math.max(textWidth(axes[axes.length - 1].title) / 2 + 6, 20), width / 4);
    const top = 30, na = height - 12, bottom = height - 34;
    const n = axes.length;
    const xs = axes.map((_, i) => (n === 1 ? width / 2 : left + (i * (width - left - right)) / (n - 1)));
    const spacing = n === 1 ? width : (width - left - right) / (n - 1);
    geometry = { xs, top, bottom, na, axes };
    const yOf = (t) => (t === null || t === undefined ? na : bottom - t * (bottom - top));

    // lines first (under the axes), in the order given: grey ones under the others
    const gl = svgEl("g", { class: "lines" }, svg);
    for (const line of lines) {
      const d = line.values.map((t, i) => `${i ? "L" : "M"}${xs[i].toFixed(1)},${yOf(t).toFixed(1)}`).join("");
      const cls = `line${line.dim ? " dim" : ""}${line.hidden ? " hidden" : ""}`;
      const p = svgEl("path", { class: cls, d, stroke: line.color, "data-id": line.id }, gl);
      if (!line.hidden) svgEl("title", {}, p).textContent = line.tip || line.id;
    }

    const ranges = model.get("ranges") || {};
    axes.forEach((axis, i) => {
      const x = xs[i];
      const g = svgEl("g", { class: "axis", "data-key": axis.key }, svg);
      svgEl("line", { class: "axis", x1: x, x2: x, y1: top, y2: bottom }, g);
      for (const [t, label] of axis.ticks) {
        const y = yOf(t);
        svgEl("line", { class: "mark", x1: x - 4, x2: x, y1: y, y2: y }, g);
        const tx = svgEl("text", { class: "tick", x: x - 7, y: y + 4, "text-anchor": "end" }, g);
        tx.textContent = label;
      }
      if (axis.missing) {
        svgEl("line", { class: "mark", x1: x - 4, x2: x + 4, y1: na, y2: na }, g);
        const tx = svgEl("text", { class: "na", x: x - 7, y: na + 4, "text-anchor": "end" }, g);
        tx.textContent = "n/a";
      }
      // the title, cut to the room between axes (whole on hover)
      let title = axis.title + (axis.log ? " (log)" : "");
      const room = Math.max(spacing - 8, 40);
      if (textWidth(title) > room) title = title.slice(0, Math.max(3, Math.floor(room / CHAR_PX) - 1)) + "\u2026";
      const tt = svgEl("text", { class: "title", x, y: 16, "text-anchor": "middle" }, g);
      tt.textContent = title;
      // the band of the range kept on this axis
      const r = ranges[axis.key];
      if (r) {
        if (axis.kind === "num") {
          const y1 = yOf(Math.min(1, Math.max(0, forward(axis, r[1]))));
          const y0 = yOf(Math.min(1, Math.max(0, forward(axis, r[0]))));
          svgEl("rect", { class: "band", x: x - 7, y: y1 - 2, width: 14, height: Math.max(y0 - y1 + 4, 4) }, g);
        } else {
          for (const [t, label] of axis.ticks) {
            if (r.includes(label)) svgEl("rect", { class: "band", x: x - 7, y: yOf(t) - 7, width: 14, height: 14 }, g);
          }
        }
      }
      const hit = svgEl("rect", { class: "hit", x: x - 14, y: top - 8, width: 28, height: bottom - top + 16, "data-key": axis.key }, g);
      const tip = svgEl("title", {}, hit);
      tip.textContent = `${axis.title}: drag along the axis to keep a range, click to let go`;
      hit.addEventListener("pointerdown", (e) => startBrush(e, axis, x));
    });
  }

  // -- brushing --------------------------------------------------------------------
  const pointerY = (e) => {
    const r = svg.getBoundingClientRect();
    const vb = svg.viewBox.baseVal;
    return (e.clientY - r.top) * (vb && vb.height ? vb.height / r.height : 1);
  };

  function startBrush(e, axis, x) {
    if (!geometry || e.button !== 0) return;
    e.preventDefault();
    const y = pointerY(e);
    brushing = { key: axis.key, axis, x, y0: y, y1: y, band: null };
    svg.setPointerCapture(e.pointerId);
  }

  svg.addEventListener("pointermove", (e) => {
    if (!brushing) return;
    brushing.y1 = Math.min(geometry.bottom + 4, Math.max(geometry.top - 4, pointerY(e)));
    const a = Math.min(brushing.y0, brushing.y1), b = Math.max(brushing.y0, brushing.y1);
    if (!brushing.band) {
      brushing.band = svgEl("rect", { class: "band brushing", x: brushing.x - 7, width: 14 }, svg);
    }
    brushing.band.setAttribute("y", a);
    brushing.band.setAttribute("height", Math.max(b - a, 1));
  });

  function endBrush(e) {
    if (!brushing) return;
    const { axis, y0, y1, key } = brushing;
    brushing = null;
    if (svg.hasPointerCapture && svg.hasPointerCapture(e.pointerId)) svg.releasePointerCapture(e.pointerId);
    let range = null;
    if (Math.abs(y1 - y0) >= 3 && e.type === "pointerup") {
      const t0 = tOf(geometry, Math.max(y0, y1)), t1 = tOf(geometry, Math.min(y0, y1));
      if (axis.kind === "num") range = [invert(axis, t0), invert(axis, t1)];
      else range = axis.ticks.filter(([t]) => t >= t0 - 1e-9 && t <= t1 + 1e-9).map(([, label]) => label);
    } else if (e.type !== "pointerup") {
      draw();
      return;
    }
    model.send({ brush: key, range });
  }
  svg.addEventListener("pointerup", endBrush);
  svg.addEventListener("pointercancel", endBrush);

  for (const name of ["axes", "lines", "ranges", "legend", "note", "height_px"]) {
    model.on(`change:${name}`, () => { if (!brushing) draw(); });
  }
  draw();
  let lastWidth = el.clientWidth;
  const resize = new ResizeObserver(() => {
    if (el.clientWidth !== lastWidth) { lastWidth = el.clientWidth; if (!brushing) draw(); }
  });
  resize.observe(el);
  return () => { resize.disconnect(); svg.replaceChildren(); };
}

export default { render };
