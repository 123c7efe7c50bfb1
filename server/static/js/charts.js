// Small SVG charts (bars and a line) drawn with the DOM: no chart library, no inline
// style (presentation attributes and classes only), labels through textContent.
"use strict";

const NS = "http://www.w3.org/2000/svg";

export function svg(tag, attrs, ...children) {
  const node = document.createElementNS(NS, tag);
  for (const [name, value] of Object.entries(attrs || {})) node.setAttribute(name, String(value));
  for (const child of children) if (child !== null && child !== undefined) node.append(child);
  return node;
}

function text(x, y, value, attrs) {
  const node = svg("text", { x, y, ...attrs });
  node.textContent = value;
  return node;
}

// Horizontal bars: rows [{label, value, title?}]; percent: values are 0..1.
export function barChart(rows, { percent = false, width = 560, rowHeight = 22, labelWidth = 170 } = {}) {
  const height = Math.max(1, rows.length) * rowHeight + 8;
  const max = percent ? 1 : Math.max(1, ...rows.map((r) => r.value));
  const plot = width - labelWidth - 60;
  const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, width, height, class: "bars", role: "img" });
  rows.forEach((r, i) => {
    const y = 4 + i * rowHeight;
    const w = Math.max(r.value > 0 ? 1 : 0, (r.value / max) * plot);
    const shown = percent ? `${Math.round(r.value * 100)}%` : String(r.value);
    const bar = svg("rect", { x: labelWidth, y: y + 3, width: w.toFixed(1), height: rowHeight - 8, class: `bar ${r.className || ""}` });
    const title = svg("title");
    title.textContent = r.title || `${r.label}: ${shown}`;
    bar.append(title);
    chart.append(
      text(labelWidth - 6, y + rowHeight / 2 + 4, r.label, { "text-anchor": "end", class: "label" }),
      bar,
      text(labelWidth + w + 4, y + rowHeight / 2 + 4, shown, { class: "value" }));
  });
  return chart;
}

// A line over days: points [{label, value}] in order.
export function lineChart(points, { width = 560, height = 180 } = {}) {
  const pad = { l: 36, r: 28, t: 10, b: 28 };
  const max = Math.max(1, ...points.map((p) => p.value));
  const w = width - pad.l - pad.r;
  const h = height - pad.t - pad.b;
  const x = (i) => pad.l + (points.length <= 1 ? w / 2 : (i * w) / (points.length - 1));
  const y = (v) => pad.t + h - (v / max) * h;
  const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, width, height, class: "line", role: "img" });
  chart.append(svg("line", { x1: pad.l, y1: pad.t + h, x2: pad.l + w, y2: pad.t + h, class: "axis" }),
    text(pad.l - 4, pad.t + 8, String(max), { "text-anchor": "end", class: "value" }),
    text(pad.l - 4, pad.t + h, "0", { "text-anchor": "end", class: "value" }));
  if (points.length) {
    chart.append(svg("polyline", { points: points.map((p, i) => `${x(i).toFixed(1)},${y(p.value).toFixed(1)}`).join(" "), class: "series" }));
  }
  const step = Math.max(1, Math.ceil(points.length / 8));
  points.forEach((p, i) => {
    const dot = svg("circle", { cx: x(i).toFixed(1), cy: y(p.value).toFixed(1), r: 3, class: "dot" });
    const title = svg("title");
    title.textContent = `${p.label}: ${p.value}`;
    dot.append(title);
    chart.append(dot);
    if (i % step === 0) chart.append(text(x(i), height - 8, p.label.slice(5), { "text-anchor": "middle", class: "label" }));
  });
  return chart;
}
