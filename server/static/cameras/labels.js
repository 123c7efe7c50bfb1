// Text on the zone editor's stage: a zone's name above its first corner and the validator's
// messages below it, in CSS pixels (the SVG has no viewBox, so text keeps its natural aspect).
// A message wider than the image wraps onto at most MAX_LINES lines, the last one ending in "…";
// every block is moved left or up to stay inside the image, and a <title> carries the whole
// message (the 问题 list shows it too).
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const LINE_PX = 16;
const PAD_PX = 6;
const GAP_PX = 10;
const MAX_LINES = 3;
const ELLIPSIS = "…";

function wrap(measure, text, width) {
  const lines = [];
  let rest = text.trim();
  while (rest && lines.length < MAX_LINES) {
    if (measure(rest) <= width) { lines.push(rest); rest = ""; break; }
    let lo = 1;
    let hi = rest.length - 1;
    while (lo < hi) { // the longest prefix that fits (at least one character)
      const mid = Math.ceil((lo + hi) / 2);
      if (measure(rest.slice(0, mid)) <= width) lo = mid; else hi = mid - 1;
    }
    const space = rest.lastIndexOf(" ", lo);
    const cut = rest[lo] !== " " && space > 0 ? space : lo;
    lines.push(rest.slice(0, cut).trimEnd());
    rest = rest.slice(cut).trimStart();
  }
  if (rest) {
    let last = lines[lines.length - 1];
    while (last && measure(last + ELLIPSIS) > width) last = last.slice(0, -1);
    lines[lines.length - 1] = last.trimEnd() + ELLIPSIS;
  }
  return lines;
}

// One block of text as a <g> with a <title>; it is appended to `parent` to be measured.
function block(parent, cls, text, title, width) {
  const group = document.createElementNS(SVG, "g");
  const tip = document.createElementNS(SVG, "title");
  tip.textContent = title;
  const node = document.createElementNS(SVG, "text");
  node.setAttribute("class", cls);
  group.append(tip, node);
  parent.append(group);
  const measure = (s) => { node.textContent = s; return node.getComputedTextLength(); };
  const lines = wrap(measure, text, width);
  const widest = Math.max(...lines.map(measure));
  node.textContent = "";
  const spans = lines.map((line) => {
    const span = document.createElementNS(SVG, "tspan");
    span.textContent = line;
    node.append(span);
    return span;
  });
  return { group, node, spans, width: widest, height: lines.length * LINE_PX };
}

function place(item, x, top) {
  item.spans.forEach((span, i) => {
    span.setAttribute("x", String(x));
    span.setAttribute("y", String(top + (i + 1) * LINE_PX - 4));
  });
}

// The name above `anchor` ([x, y] in pixels) and the messages stacked below it, all inside
// the `size` ([width, height] in pixels) stage.
export function zoneLabels(parent, anchor, size, name, messages) {
  const [width, height] = size;
  const room = Math.max(LINE_PX, width - 2 * PAD_PX);
  const clampX = (item) => Math.max(PAD_PX, Math.min(anchor[0], width - PAD_PX - item.width));
  const title = block(parent, "zone-label", name, name, room);
  place(title, clampX(title), Math.max(PAD_PX, anchor[1] - GAP_PX - title.height));
  const items = messages.map((m) => block(parent, "problem-label", m.short, m.full, room));
  const total = items.reduce((sum, item) => sum + item.height, 0);
  let top = Math.max(PAD_PX, Math.min(anchor[1] + GAP_PX, height - PAD_PX - total));
  for (const item of items) { place(item, clampX(item), top); top += item.height; }
  return [title.group, ...items.map((item) => item.group)];
}
