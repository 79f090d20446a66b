// nnwidgets LayerTable: rows sorted in Python; a header click asks for another order
// (traits sort_by / descending), a row click sets `selected`. No library, no network.

function render({ model, el }) {
  el.classList.add("nnw-layer-table");
  el.style.minWidth = "0";
  el.style.maxWidth = "100%";
  const style = document.createElement("style");
  style.textContent = `
    .nnw-layer-table .wrap { max-height:var(--h); max-width:100%; overflow:auto;
      border:1px solid rgba(128,128,128,.3); }
    .nnw-layer-table td.text { max-width:12em; overflow:hidden; text-overflow:ellipsis; }
    .nnw-layer-table td.text.short { max-width:9em; }
    .nnw-layer-table table { border-collapse:collapse; font-size:12px; width:100%;
      font-family: var(--jp-ui-font-family, sans-serif); color:var(--jp-ui-font-color0, #222); }
    .nnw-layer-table th { position:sticky; top:0; background:var(--jp-layout-color2, #eee);
      cursor:pointer; text-align:left; padding:3px 6px; white-space:nowrap; user-select:none; }
    .nnw-layer-table th.num, .nnw-layer-table td.num { text-align:right; }
    .nnw-layer-table td { padding:2px 6px; white-space:nowrap; border-top:1px solid rgba(128,128,128,.15); }
    .nnw-layer-table tr.row { cursor:pointer; }
    .nnw-layer-table tr.row:hover td { background:rgba(59,120,194,.12); }
    .nnw-layer-table tr.selected td { background:#fff4c2; font-weight:600; color:#222; }
    .nnw-layer-table td.warn { color:#c0392b; font-weight:600; }
    .nnw-layer-table tr.dim td { opacity:.45; }
  `;
  el.appendChild(style);
  const wrap = document.createElement("div");
  wrap.className = "wrap";
  el.appendChild(wrap);
  const table = document.createElement("table");
  wrap.appendChild(table);
  let rowsById = {};

  function draw() {
    const columns = model.get("columns");
    const rows = model.get("rows");
    const sortBy = model.get("sort_by");
    const descending = model.get("descending");
    wrap.style.setProperty("--h", `${model.get("height_px")}px`);
    table.replaceChildren();
    const head = table.createTHead().insertRow();
    columns.forEach(([key, title, numeric]) => {
      const th = document.createElement("th");
      th.textContent = title + (key === sortBy ? (descending ? " \u25bc" : " \u25b2") : "");
      th.dataset.key = key;
      if (numeric) th.classList.add("num");
      th.title = `sort by ${title}`;
      th.addEventListener("click", () => {
        if (key === model.get("sort_by")) model.set("descending", !model.get("descending"));
        else { model.set("sort_by", key); model.set("descending", Boolean(numeric)); }
        model.save_changes();
      });
      head.appendChild(th);
    });
    const body = table.createTBody();
    rowsById = {};
    for (const row of rows) {
      const tr = body.insertRow();
      tr.className = "row";
      tr.dataset.id = row.id;
      row.cells.forEach((text, i) => {
        const td = tr.insertCell();
        td.textContent = text;
        if (columns[i][2]) td.classList.add("num");
        else {
          td.classList.add("text");
          if (i > 1) td.classList.add("short");  // the type and the shape
          td.title = text;
        }
        if ((row.warn || []).includes(i)) td.classList.add("warn");
        if (i === 0 && row.color) { td.style.color = row.color; td.style.fontWeight = "700"; }
      });
      if (row.dim) tr.classList.add("dim");
      tr.addEventListener("click", () => { model.set("selected", row.id); model.save_changes(); });
      rowsById[row.id] = tr;
    }
    mark(true);
  }

  function mark(scroll) {
    for (const tr of table.querySelectorAll("tr.selected")) tr.classList.remove("selected");
    const tr = rowsById[model.get("selected")];
    if (!tr) return;
    tr.classList.add("selected");
    if (scroll) {
      const top = tr.offsetTop, bottom = top + tr.offsetHeight;
      if (top < wrap.scrollTop + 24 || bottom > wrap.scrollTop + wrap.clientHeight) {
        wrap.scrollTop = top - wrap.clientHeight / 2;
      }
    }
  }

  model.on("change:rows", draw);
  model.on("change:columns", draw);
  model.on("change:height_px", draw);
  model.on("change:selected", () => mark(true));
  draw();
}

export default { render };
