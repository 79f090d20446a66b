// Installed before any page script (Playwright's add_init_script): logs every
// WebSocket frame (arrival time, data) and defines the switch, the redraw detection
// and the message decoding, as window.__nnwBench.
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
          const cut = W.innerText.includes(spec.layer + ": "); // a cut title leads the footer
          if (!fig || hidden(fig, W) || !(heading(fig).startsWith(spec.layer + ": ") || cut)) {
            return false;
          }
          const h = href(fig.querySelector("image"));
          return h !== "" && h !== before.w;
        };
        const activationsDone = () => figures(A).some((fig) => {
          if (hidden(fig, A)) return false;
          const h = heading(fig);
          const titled = h.startsWith(spec.layer + ": output ") && h.endsWith(" for input " + spec.index);
          // a long title is cut, and then the whole of it leads the card's caption
          const text = A.innerText;
          const cut = new RegExp(
            "(^|\\s)" + spec.layer.replace(/[.*+?^${}()|[\]\\]/g, "\\$&") +
            ": output [^\\n]*? for input " + spec.index + "(\\D|$)"
          ).test(text);
          if (!titled && !cut) return false;
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
