// nnwidgets ModelGraph: a layered graph of a Keras model's layers, drawn in SVG.
// Positions come from Python (nnwidgets.compute.layout); this file only draws, zooms,
// pans and reports clicks (the trait `selected`, and {toggle: name} messages).
// No library, no network: it works offline and in Voila.

const NS = "http://www.w3.org/2000/svg";

function svgEl(name, attrs, parent) {
  const el = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, v);
  if (parent) parent.appendChild(el);
  return el;
}

const COLOURS = {
  input: "#4a4a4a", conv: "#3b78c2", dense: "#e0892b", norm: "#8a8f98",
  act: "#3f9b52", pool: "#8458b3", merge: "#1a9c9c", attention: "#c0392b",
  recurrent: "#b5651d", embed: "#b0427a", model: "#555", other: "#6b7b8c",
};

function family(type, kind) {
  if (kind === "input") return "input";
  if (kind === "model") return "model";
  const t = type.toLowerCase();
  if (t.includes("attention")) return "attention";
  if (t.includes("conv")) return "conv";
  if (t.includes("dense")) return "dense";
  if (t.includes("norm")) return "norm";
  if (t.includes("pool")) return "pool";
  if (t.includes("lstm") || t.includes("gru") || t.includes("rnn")) return "recurrent";
  if (t.includes("embedding")) return "embed";
  if (["add", "concatenate", "multiply", "average", "subtract", "maximum", "minimum", "dot"]
      .includes(t)) return "merge";
  if (t.includes("activation") || t.includes("relu") || t.includes("softmax")) return "act";
  return "other";
}

function render({ model, el }) {
  // anywidget loads this module afresh for each widget: ids must be unique page-wide
  const uid = `nnwg-${Math.random().toString(36).slice(2)}`;
  el.classList.add("nnw-graph");
  const style = document.createElement("style");
  style.textContent = `
    .nnw-graph { font-family: var(--jp-ui-font-family, sans-serif); }
    .nnw-graph .bar { display:flex; gap:4px; align-items:center; margin-bottom:4px; font-size:12px; }
    .nnw-graph .bar button { padding:1px 8px; cursor:pointer; }
    .nnw-graph svg { border:1px solid rgba(128,128,128,.3); background:var(--jp-layout-color0, #fff);
                     cursor:grab; touch-action:none; user-select:none; display:block; }
    .nnw-graph svg.panning { cursor:grabbing; }
    .nnw-graph .node { cursor:pointer; }
    .nnw-graph .node rect.body { fill:var(--jp-layout-color0, #fff); stroke-width:1.5; }
    .nnw-graph .node:hover rect.body { stroke-width:3; }
    .nnw-graph .node.selected rect.body { stroke-width:4; fill:#fff4c2; }
    .nnw-graph .node.holds rect.body { stroke-dasharray:5 3; stroke-width:3; }
    .nnw-graph .node text { pointer-events:none; fill:var(--jp-ui-font-color0, #222); }
    .nnw-graph .node text.name { font-size:12px; font-weight:600; }
    .nnw-graph .node text.meta { font-size:10.5px; fill:var(--jp-ui-font-color2, #666); }
    .nnw-graph .node text.toggle { font-size:12px; pointer-events:all; cursor:pointer; fill:#3b78c2; }
    .nnw-graph .sub { cursor:pointer; }
    .nnw-graph .sub text { font-size:11px; fill:var(--jp-ui-font-color0, #222); pointer-events:none; }
    .nnw-graph .sub rect { fill:rgba(128,128,128,.08); }
    .nnw-graph .sub:hover rect { fill:rgba(59,120,194,.2); }
    .nnw-graph .sub.selected rect { fill:#fff4c2; stroke:#222; }
    .nnw-graph path.edge { fill:none; stroke:#8b939c; stroke-width:1.3; }
    .nnw-graph path.edge.back { stroke-dasharray:4 3; }
    .nnw-graph path.edge.hot { stroke:#d4a017; stroke-width:2.5; }
    .nnw-graph rect.box { fill:rgba(59,120,194,.05); stroke:rgba(59,120,194,.6); stroke-dasharray:6 4; }
    .nnw-graph text.boxlabel { font-size:12px; fill:#3b78c2; cursor:pointer; font-weight:600; }
    .nnw-graph .note { font-size:12px; color:var(--jp-ui-font-color2, #666); }
  `;
  el.appendChild(style);
  const bar = document.createElement("div");
  bar.className = "bar";
  const buttons = {};
  for (const [key, text, title] of [["fit", "fit", "the whole model"], ["in", "+", "zoom in"],
      ["out", "\u2212", "zoom out"], ["sel", "selected", "the selected layer"]]) {
    const b = document.createElement("button");
    b.textContent = text; b.title = title; b.className = `nnw-graph-${key}`;
    bar.appendChild(b); buttons[key] = b;
  }
  const note = document.createElement("span");
  note.className = "note";
  bar.appendChild(note);
  el.appendChild(bar);

  const svg = svgEl("svg", { class: "nnw-graph-svg" });
  el.appendChild(svg);
  const defs = svgEl("defs", {}, svg);
  const marker = svgEl("marker", {
    id: `${uid}-arrow`, viewBox: "0 0 10 10", refX: "9", refY: "5",
    markerWidth: "8", markerHeight: "8", markerUnits: "userSpaceOnUse",
    orient: "auto-start-reverse",
  }, defs);
  svgEl("path", { d: "M 0 0 L 10 5 L 0 10 z", fill: "#8b939c" }, marker);
  const root = svgEl("g", { class: "root" }, svg);

  let view = { x: 0, y: 0, k: 1 };
  let shapes = {};  // node id -> {g, x, y, w, h}
  let edgesOf = {};  // node id -> [path]
  let drawnGraph = null;

  const size = () => ({ w: svg.clientWidth || model.get("width_px"), h: svg.clientHeight || model.get("height_px") });
  const apply = (smooth) => {
    root.style.transition = smooth ? "transform 250ms ease-out" : "none";
    root.setAttribute("transform", `translate(${view.x},${view.y}) scale(${view.k})`);
  };

  let touched = false;  // a person zoomed or panned: keep their view

  function fit() {
    const g = model.get("graph");
    if (!g.width) return;
    const { w, h } = size();
    const k = Math.min(w / (g.width + 40), h / (g.height + 40), 1.2);
    view = { k, x: (w - g.width * k) / 2, y: 20 * k };
    apply(true);
  }

  function centre(id, zoom) {
    const s = shapes[id];
    if (!s) return;
    const { w, h } = size();
    if (zoom) view.k = Math.max(view.k, 0.8);
    view.x = w / 2 - s.x * view.k;
    view.y = h / 2 - s.y * view.k;
    apply(true);
  }

  function visible(id) {
    const s = shapes[id];
    if (!s) return true;
    const { w, h } = size();
    const sx = s.x * view.k + view.x, sy = s.y * view.k + view.y;
    return sx > 20 && sx < w - 20 && sy > 20 && sy < h - 20;
  }

  function zoomAt(px, py, factor) {
    const k = Math.min(Math.max(view.k * factor, 0.05), 4);
    view.x = px - (px - view.x) * (k / view.k);
    view.y = py - (py - view.y) * (k / view.k);
    view.k = k;
    apply(false);
  }

  function pick(id) {
    model.set("selected", id);
    model.save_changes();
  }

  function draw() {
    const g = model.get("graph");
    drawnGraph = g;
    root.replaceChildren();
    shapes = {}; edgesOf = {};
    svg.style.height = `${model.get("height_px")}px`;
    svg.setAttribute("width", "100%");
    note.textContent = g.note || "";
    const boxes = svgEl("g", { class: "boxes" }, root);
    for (const b of g.boxes || []) {
      svgEl("rect", { class: "box", x: b.x, y: b.y, width: b.w, height: b.h, rx: 8 }, boxes);
      const label = svgEl("text", { class: "boxlabel", x: b.x + 8, y: b.y + 15 }, boxes);
      label.textContent = `\u25be ${b.id}`;
      label.addEventListener("click", (e) => { e.stopPropagation(); model.send({ toggle: b.id }); });
    }
    const edges = svgEl("g", { class: "edges" }, root);
    for (const e of g.edges || []) {
      const p = svgEl("path", {
        class: e.back ? "edge back" : "edge", d: e.d, "marker-end": `url(#${uid}-arrow)`,
      }, edges);
      (edgesOf[e.s] = edgesOf[e.s] || []).push(p);
      (edgesOf[e.t] = edgesOf[e.t] || []).push(p);
    }
    const nodes = svgEl("g", { class: "nodes" }, root);
    for (const n of g.nodes || []) {
      const x0 = n.x - n.w / 2, y0 = n.y - n.h / 2;
      const node = svgEl("g", { class: "node", "data-id": n.id }, nodes);
      const colour = COLOURS[family(n.type, n.kind)];
      svgEl("rect", { class: "body", x: x0, y: y0, width: n.w, height: n.h, rx: 5, stroke: colour }, node);
      svgEl("rect", { x: x0, y: y0, width: 5, height: n.h, fill: colour }, node);
      const title = svgEl("title", {}, node);
      title.textContent = n.tip;
      const name = svgEl("text", { class: "name", x: x0 + 10, y: y0 + 15 }, node);
      name.textContent = n.label;
      const meta = svgEl("text", { class: "meta", x: x0 + 10, y: y0 + 29 }, node);
      meta.textContent = n.meta;
      node.addEventListener("click", (e) => { if (!moved) pick(n.id); e.stopPropagation(); });
      if (n.opens) {
        const t = svgEl("text", { class: "toggle", x: x0 + n.w - 16, y: y0 + 15 }, node);
        t.textContent = n.open ? "\u25be" : "\u25b8";
        const tt = svgEl("title", {}, t);
        tt.textContent = n.open ? "close" : "open: show the layers inside";
        t.addEventListener("click", (e) => { e.stopPropagation(); if (!moved) model.send({ toggle: n.id }); });
      }
      (n.subs || []).forEach((sub, i) => {
        const row = svgEl("g", { class: "sub", "data-id": sub.id }, node);
        const ry = y0 + 36 + i * 17;
        svgEl("rect", { x: x0 + 10, y: ry, width: n.w - 16, height: 15, rx: 3 }, row);
        const t = svgEl("text", { x: x0 + 14, y: ry + 11.5 }, row);
        t.textContent = sub.label;
        const tt = svgEl("title", {}, row);
        tt.textContent = sub.tip;
        row.addEventListener("click", (e) => { e.stopPropagation(); if (!moved) pick(sub.id); });
        shapes[sub.id] = { g: row, x: n.x, y: ry + 7, sub: true };
      });
      shapes[n.id] = { g: node, x: n.x, y: n.y };
    }
    mark();
  }

  function mark() {
    const selected = model.get("selected");
    const holder = model.get("holder");
    for (const el of root.querySelectorAll(".selected, .holds, .hot")) {
      el.classList.remove("selected", "holds", "hot");
    }
    const s = shapes[selected];
    if (s) s.g.classList.add("selected");
    if (holder && shapes[holder]) shapes[holder].g.classList.add("holds");
    for (const p of edgesOf[selected] || edgesOf[holder] || []) p.classList.add("hot");
  }

  // pan by dragging, zoom with the wheel (about the pointer)
  let drag = null, moved = false;
  svg.addEventListener("pointerdown", (e) => {
    drag = { x: e.clientX, y: e.clientY, vx: view.x, vy: view.y };
    moved = false;
  });
  svg.addEventListener("pointermove", (e) => {
    if (!drag) return;
    const dx = e.clientX - drag.x, dy = e.clientY - drag.y;
    if (!moved && Math.abs(dx) + Math.abs(dy) < 4) return;
    if (!moved) {
      moved = true; touched = true;
      svg.setPointerCapture(e.pointerId); svg.classList.add("panning");
    }
    view.x = drag.vx + dx; view.y = drag.vy + dy;
    apply(false);
  });
  const end = () => { drag = null; svg.classList.remove("panning"); setTimeout(() => { moved = false; }, 0); };
  svg.addEventListener("pointerup", end);
  svg.addEventListener("pointercancel", end);
  svg.addEventListener("wheel", (e) => {
    e.preventDefault();
    const r = svg.getBoundingClientRect();
    touched = true;
    zoomAt(e.clientX - r.left, e.clientY - r.top, Math.exp(-e.deltaY * 0.0015));
  }, { passive: false });
  buttons.fit.addEventListener("click", fit);
  buttons.in.addEventListener("click", () => { touched = true; const { w, h } = size(); zoomAt(w / 2, h / 2, 1.4); });
  buttons.out.addEventListener("click", () => { touched = true; const { w, h } = size(); zoomAt(w / 2, h / 2, 1 / 1.4); });
  buttons.sel.addEventListener("click", () => centre(model.get("selected") || model.get("holder"), true));

  model.on("change:graph", () => { draw(); const id = model.get("selected"); if (!visible(id)) centre(id, false); });
  model.on("change:selected", () => {
    mark();
    const id = shapes[model.get("selected")] ? model.get("selected") : model.get("holder");
    if (!visible(id)) centre(id, false);
  });
  model.on("change:holder", mark);
  model.on("change:height_px", () => { svg.style.height = `${model.get("height_px")}px`; });

  // first view: the whole model if it fits at a readable size, else readable (at most
  // 1:1) around the selected layer. Done again when a hidden widget (a tab not shown
  // yet) gets its size, until a person zooms or pans.
  function initialView() {
    const g = model.get("graph");
    const { w, h } = size();
    if (!g.width || !w || !h) return;
    const whole = Math.min(w / (g.width + 40), h / (g.height + 40), 1);
    if (whole >= 0.6) { fit(); return; }
    view.k = Math.min(1, Math.max(w / (g.width + 40), 0.6));
    const id = model.get("selected") || model.get("holder");
    if (shapes[id]) centre(id, false);
    else { view.x = (w - g.width * view.k) / 2; view.y = 20; apply(false); }
  }
  draw();
  requestAnimationFrame(initialView);
  const resize = new ResizeObserver(() => { if (!touched) initialView(); });
  resize.observe(svg);
  return () => { resize.disconnect(); root.replaceChildren(); };
}

export default { render };
