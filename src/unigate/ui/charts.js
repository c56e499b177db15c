/* Tiny SVG charts for the unigate dashboard: line, horizontal bars, stacked columns. No dependencies. */
(function () {
  "use strict";
  const NS = "http://www.w3.org/2000/svg";
  const PALETTE = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#ca8a04", "#db2777"];

  function el(name, attrs, parent) {
    const node = document.createElementNS(NS, name);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    if (parent) parent.appendChild(node);
    return node;
  }
  function text(parent, x, y, value, attrs) {
    const node = el("text", Object.assign({ x: x, y: y }, attrs || {}), parent);
    node.textContent = value;
    return node;
  }
  function niceMax(v) {
    if (!(v > 0)) return 1;
    const m = Math.pow(10, Math.floor(Math.log10(v)));
    for (const s of [1, 2, 2.5, 5, 10]) if (v <= s * m * (1 + 1e-9)) return s * m;
    return 10 * m;
  }
  function frame(container, opts, height) {
    container.innerHTML = "";
    container.classList.add("chart");
    if (opts.title) {
      const t = document.createElement("div");
      t.className = "title";
      t.textContent = opts.title;
      container.appendChild(t);
    }
    // draw at the size shown, so labels keep their font size whatever the card width
    const width = opts.width || Math.max(320, Math.round((container.clientWidth || 588) - 28));
    const svg = el("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": opts.title || "chart" });
    container.appendChild(svg);
    return { svg: svg, width: width };
  }
  function legend(container, series) {
    const box = document.createElement("div");
    box.className = "legend";
    series.forEach((s, i) => {
      const item = document.createElement("span");
      const sw = document.createElement("i");
      sw.style.background = s.color || PALETTE[i % PALETTE.length];
      item.appendChild(sw);
      item.appendChild(document.createTextNode(s.name));
      box.appendChild(item);
    });
    container.appendChild(box);
  }

  const CHAR_PX = 7;  // an upper bound of one label character's width at the charts' 11px font

  /* Tick labels with as many decimals as the tick step needs (0.25 → "0.25", not "0"). */
  function stepDecimals(step) {
    if (!(step > 0)) return 0;
    let d = Math.max(0, Math.ceil(-Math.log10(step) - 1e-9));
    while (d < 4 && Math.abs(step * 10 ** d - Math.round(step * 10 ** d)) > 1e-9) d++;
    return d;
  }

  /* series: [{name, color, values: [[x, y|null], …]}] with numeric x (unix seconds by default).
     null is "no traffic in that interval"; with opts.zeroIsData a 0 is a real point (0% errors). */
  function lineChart(container, opts) {
    const height = opts.height || 200;
    const { svg, width } = frame(container, opts, height);
    const xfmt = opts.xFormat || ((t) => new Date(t * 1000).toTimeString().slice(0, 5));
    const all = opts.series.flatMap((s) => s.values);
    const xs = all.map((p) => p[0]);
    const ys = all.map((p) => p[1]).filter((v) => v !== null && v !== undefined);
    const hasData = ys.length > 0 && (opts.zeroIsData || ys.some((v) => v > 0));
    const x0 = Math.min(...xs), x1 = Math.max(...xs);
    const yMax = niceMax(Math.max(0, ...ys) * 1.05);
    const decimals = stepDecimals(yMax / 4);
    const fmt = opts.yFormat ? (v) => opts.yFormat(v, decimals) : (v) => v.toFixed(decimals);
    const ticks = [0, 1, 2, 3, 4].map((i) => (yMax * i) / 4);
    // room on the left for the widest tick label, so none is clipped
    const L = 10 + CHAR_PX * Math.max(...ticks.map((v) => fmt(v).length)), R = 12, T = 10, B = 24;
    const px = (x) => L + (width - L - R) * (x1 > x0 ? (x - x0) / (x1 - x0) : 0.5);
    const py = (y) => T + (height - T - B) * (1 - y / yMax);
    for (const v of ticks) {
      el("line", { x1: L, x2: width - R, y1: py(v), y2: py(v), stroke: "#eef2f7" }, svg);
      text(svg, L - 6, py(v) + 4, fmt(v), { "text-anchor": "end", class: "tick" });
    }
    if (xs.length) {
      for (let i = 0; i <= 4; i++) {
        const x = x0 + ((x1 - x0) * i) / 4;
        // the outer labels lean inwards: centred on the chart's edge they would be cut in half
        const anchor = i === 0 ? "start" : i === 4 ? "end" : "middle";
        text(svg, px(x), height - 6, xfmt(x), { "text-anchor": anchor, class: "tick" });
      }
    }
    if (!hasData) text(svg, width / 2, height / 2, opts.empty || "no traffic in this range", { class: "empty", "text-anchor": "middle" });
    opts.series.forEach((s, i) => {
      const color = s.color || PALETTE[i % PALETTE.length];
      let d = "", pen = false, count = 0;
      for (const [x, y] of s.values) {
        if (y === null || y === undefined) { pen = false; continue; }
        d += `${pen ? "L" : "M"}${px(x).toFixed(1)},${py(y).toFixed(1)}`;
        pen = true;
        count++;
      }
      if (d) el("path", { d: d, fill: "none", stroke: color, "stroke-width": 2, class: "series", "data-points": count }, svg);
      // dots, so a lone point (one busy interval) is visible too
      for (const [x, y] of s.values) {
        if (y === null || y === undefined || (count > 40 && !opts.dots)) continue;
        el("circle", { cx: px(x).toFixed(1), cy: py(y).toFixed(1), r: 2.5, fill: color }, svg);
      }
    });
    if (opts.series.length > 1) legend(container, opts.series);
    container.dataset.hasData = hasData ? "1" : "0";
  }

  /* rows: [{label, value}] → horizontal bars, largest first if sort. */
  function barChart(container, opts) {
    const rows = opts.rows.slice();
    if (opts.sort !== false) rows.sort((a, b) => b.value - a.value);
    const rowH = 24, T = 6;
    const height = Math.max(40, T * 2 + rowH * rows.length);
    const { svg, width } = frame(container, opts, height);
    const L = opts.labelWidth || 170, R = 90;
    const max = niceMax(Math.max(0, ...rows.map((r) => r.value)));
    const fmt = opts.format || ((v) => String(v));
    if (!rows.length) text(svg, width / 2, height / 2 + 4, opts.empty || "no data", { class: "empty", "text-anchor": "middle" });
    rows.forEach((r, i) => {
      const y = T + i * rowH;
      const w = ((width - L - R) * r.value) / max;
      text(svg, L - 8, y + 15, r.label.length > 26 ? r.label.slice(0, 25) + "…" : r.label, { "text-anchor": "end" });
      el("rect", { x: L, y: y + 4, width: Math.max(w, r.value > 0 ? 2 : 0), height: rowH - 8, rx: 3, fill: r.color || PALETTE[0], class: "bar-rect" }, svg);
      text(svg, L + w + 6, y + 15, fmt(r.value));
    });
    container.dataset.hasData = rows.some((r) => r.value > 0) ? "1" : "0";
  }

  /* categories: ["2024-01-01", …]; series: [{name, values: [number per category]}] stacked. */
  function columnChart(container, opts) {
    const height = opts.height || 220;
    const { svg, width } = frame(container, opts, height);
    const L = 74, R = 10, T = 10, B = 26;
    const cats = opts.categories;
    const totals = cats.map((_, i) => opts.series.reduce((sum, s) => sum + (s.values[i] || 0), 0));
    const max = niceMax(Math.max(0, ...totals) * 1.05);
    const fmt = opts.format || ((v) => String(v));
    const slot = (width - L - R) / Math.max(1, cats.length);
    const py = (v) => T + (height - T - B) * (1 - v / max);
    for (let i = 0; i <= 4; i++) {
      const v = (max * i) / 4;
      el("line", { x1: L, x2: width - R, y1: py(v), y2: py(v), stroke: "#eef2f7" }, svg);
      text(svg, L - 6, py(v) + 4, fmt(v), { "text-anchor": "end" });
    }
    const every = Math.ceil(cats.length / 10);
    cats.forEach((c, i) => {
      let base = 0;
      opts.series.forEach((s, j) => {
        const v = s.values[i] || 0;
        if (v > 0) {
          const rect = el("rect", { x: L + i * slot + slot * 0.15, width: slot * 0.7, y: py(base + v), height: py(base) - py(base + v), fill: s.color || PALETTE[j % PALETTE.length], class: "bar-rect" }, svg);
          el("title", {}, rect).textContent = `${s.name} ${c}: ${fmt(v)}`;
        }
        base += v;
      });
      if (i % every === 0) text(svg, L + i * slot + slot / 2, height - 8, c.slice(5), { "text-anchor": "middle" });
    });
    if (!totals.some((t) => t > 0)) text(svg, width / 2, height / 2, opts.empty || "no spend in this range", { class: "empty", "text-anchor": "middle" });
    if (opts.series.length > 1) legend(container, opts.series);
    container.dataset.hasData = totals.some((t) => t > 0) ? "1" : "0";
  }

  window.UGCharts = { lineChart: lineChart, barChart: barChart, columnChart: columnChart, PALETTE: PALETTE };
})();
