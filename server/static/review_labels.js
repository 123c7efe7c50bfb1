// Review labels (issue 18): the clean frame with its boxes; fix a box by dragging it (or
// the arrow keys), draw a missed object (b), give a structured reason (keys), Enter saves.
// Boxes are in 0..1 image coordinates; the API validates them (422 with the reason).
// CSP strict: no inline script or style (positions are set through the CSSOM), and data
// reaches the page through textContent only.
"use strict";

import { api, ApiError } from "/static/js/api.js";
import { el, label, loadCatalog, t } from "/static/js/i18n.js";

const SVG = "http://www.w3.org/2000/svg";
const root = document.getElementById("review-labels");
const caseId = root ? Number(root.dataset.caseId) : 0;
const REASONS = [
  // [key, code, detail]
  ["1", "not_a_violation", "lawful"],
  ["2", "not_a_violation", "licensed"],
  ["3", "not_a_violation", "wrong_hours"],
  ["w", "wrong_object", null],
  ["p", "wrong_place", null],
  ["d", "duplicate", null],
  ["u", "evidence_unusable", null],
];
const NUDGE = 0.005;

const state = {
  labels: null,
  boxes: [], // {box_id, class_name, box:{x1,y1,x2,y2}, origin, wrong, changed, isNew}
  selected: null,
  reason: null, // index into REASONS
  drawing: false,
  drag: null,
};

const $ = (id) => document.getElementById(id);

function say(text, error) {
  const status = $("rl-status");
  status.textContent = text;
  status.dataset.error = error ? "true" : "false";
}

function clamp(v) {
  return Math.min(1, Math.max(0, v));
}

function style(node, props) {
  for (const [name, value] of Object.entries(props)) node.style[name] = value;
}

async function load() {
  const labels = await api.get(`cases/${caseId}/labels`);
  state.labels = labels;
  state.boxes = labels.boxes.map((b) => ({ ...b, box: { ...b.box }, changed: false, isNew: false }));
  if (state.selected && !state.boxes.some((b) => b.box_id === state.selected)) state.selected = null;
  if (!state.selected && state.boxes.length) state.selected = state.boxes[0].box_id;
  render();
}

function fillSelect(select, names, withBackground) {
  if (select.options.length) return;
  for (const name of names) {
    const text = name === "background" ? t("review_labels.background") : label("review_labels.object", name);
    select.append(el("option", { value: name, textContent: text }));
  }
  if (withBackground) select.value = "background";
}

function render() {
  const labels = state.labels;
  fillSelect($("rl-class"), labels.classes, false);
  fillSelect($("rl-really"), labels.really_is, true);
  const stage = $("rl-stage");
  $("rl-no-frame").hidden = labels.frame !== null;
  if (labels.frame === null) {
    stage.replaceChildren();
    root.dataset.ready = "true";
    return;
  }
  let img = stage.querySelector("img");
  let svg = stage.querySelector("svg");
  if (!img) {
    style(stage, { position: "relative", display: "inline-block", maxWidth: "100%", userSelect: "none" });
    img = el("img", { src: labels.frame.url, alt: t("review_labels.frame"), draggable: false });
    style(img, { display: "block", maxWidth: "100%" });
    svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("viewBox", "0 0 1 1");
    svg.setAttribute("preserveAspectRatio", "none");
    style(svg, { position: "absolute", left: "0", top: "0", width: "100%", height: "100%", cursor: "crosshair" });
    svg.addEventListener("pointerdown", pointerDown);
    svg.addEventListener("pointermove", pointerMove);
    svg.addEventListener("pointerup", pointerUp);
    stage.append(img, svg);
  }
  svg.replaceChildren();
  for (const b of state.boxes) {
    const rect = document.createElementNS(SVG, "rect");
    rect.setAttribute("x", b.box.x1);
    rect.setAttribute("y", b.box.y1);
    rect.setAttribute("width", b.box.x2 - b.box.x1);
    rect.setAttribute("height", b.box.y2 - b.box.y1);
    rect.setAttribute("fill", b.box_id === state.selected ? "rgba(255,200,0,0.18)" : "none");
    rect.setAttribute("stroke", b.wrong ? "#d33" : b.origin === "added" ? "#2a2" : "#06f");
    rect.setAttribute("stroke-width", b.box_id === state.selected ? "3" : "2");
    rect.setAttribute("vector-effect", "non-scaling-stroke");
    rect.dataset.boxId = b.box_id;
    svg.append(rect);
  }
  const list = $("rl-boxes");
  list.replaceChildren(
    ...state.boxes.map((b) => {
      const item = el("li", {
        dataset: { boxId: b.box_id, selected: String(b.box_id === state.selected) },
        textContent: `${b.box_id}: ${label("review_labels.object", b.class_name)}`
          + (b.wrong ? ` — ${t("review_labels.marked_wrong")} (${b.really_is ?? t("review_labels.background")})` : "")
          + (b.changed ? ` — ${t("review_labels.unsaved")}` : ""),
      });
      item.addEventListener("click", () => { state.selected = b.box_id; render(); });
      return item;
    }),
  );
  const reasons = $("rl-reasons");
  reasons.replaceChildren(
    ...REASONS.map(([key, code, detail], i) => {
      const button = el("button", {
        type: "button",
        role: "radio",
        dataset: { reason: detail ? `${code}:${detail}` : code },
        textContent: `${key} ${label("review_labels.reason", detail ? `${code}_${detail}` : code)}`,
      });
      button.setAttribute("aria-checked", String(state.reason === i));
      button.addEventListener("click", () => { state.reason = state.reason === i ? null : i; render(); });
      return button;
    }),
  );
  const pending = state.boxes.filter((b) => b.changed).length;
  $("rl-pending").textContent = pending || state.reason !== null
    ? t("review_labels.pending", { n: pending, reason: state.reason === null ? "-" : REASONS[state.reason][1] })
    : "";
  const history = $("rl-history");
  history.replaceChildren(
    ...labels.edits.map((e) => el("li", {
      textContent: `${e.created_at.slice(0, 19).replace("T", " ")} ${e.reviewer ?? "-"}: `
        + `${label("review_labels.action", e.action)} ${e.box_id ?? ""} ${e.class_name ?? ""}`,
    })),
  );
  root.dataset.ready = "true";
}

function point(event) {
  const rect = $("rl-stage").querySelector("svg").getBoundingClientRect();
  return { x: clamp((event.clientX - rect.left) / rect.width), y: clamp((event.clientY - rect.top) / rect.height) };
}

function boxAt(p) {
  const hits = state.boxes.filter((b) => p.x >= b.box.x1 && p.x <= b.box.x2 && p.y >= b.box.y1 && p.y <= b.box.y2);
  hits.sort((a, b) => (a.box.x2 - a.box.x1) * (a.box.y2 - a.box.y1) - (b.box.x2 - b.box.x1) * (b.box.y2 - b.box.y1));
  return hits[0] || null;
}

function pointerDown(event) {
  const p = point(event);
  event.currentTarget.setPointerCapture(event.pointerId);
  if (state.drawing) {
    const b = {
      box_id: `new-${Date.now()}`, origin: "added", class_name: $("rl-class").value,
      box: { x1: p.x, y1: p.y, x2: p.x, y2: p.y }, wrong: false, changed: true, isNew: true,
    };
    state.boxes.push(b);
    state.selected = b.box_id;
    state.drag = { mode: "draw", box: b, start: p };
  } else {
    const b = boxAt(p);
    if (!b) return;
    state.selected = b.box_id;
    const corner = Math.abs(p.x - b.box.x2) < 0.02 && Math.abs(p.y - b.box.y2) < 0.02;
    state.drag = { mode: corner ? "resize" : "move", box: b, start: p, from: { ...b.box } };
  }
  render();
}

function pointerMove(event) {
  const drag = state.drag;
  if (!drag) return;
  const p = point(event);
  const b = drag.box;
  if (drag.mode === "draw") {
    b.box = { x1: Math.min(drag.start.x, p.x), y1: Math.min(drag.start.y, p.y), x2: Math.max(drag.start.x, p.x), y2: Math.max(drag.start.y, p.y) };
  } else if (drag.mode === "resize") {
    b.box = { ...drag.from, x2: Math.max(p.x, drag.from.x1 + 0.005), y2: Math.max(p.y, drag.from.y1 + 0.005) };
  } else {
    const dx = Math.min(Math.max(p.x - drag.start.x, -drag.from.x1), 1 - drag.from.x2);
    const dy = Math.min(Math.max(p.y - drag.start.y, -drag.from.y1), 1 - drag.from.y2);
    b.box = { x1: drag.from.x1 + dx, y1: drag.from.y1 + dy, x2: drag.from.x2 + dx, y2: drag.from.y2 + dy };
  }
  b.changed = true;
  render();
}

function pointerUp() {
  if (state.drag && state.drag.mode === "draw") {
    state.drawing = false;
    const b = state.drag.box;
    if (b.box.x2 - b.box.x1 < 0.003 || b.box.y2 - b.box.y1 < 0.003) {
      state.boxes = state.boxes.filter((x) => x !== b);
      state.selected = state.boxes.length ? state.boxes[0].box_id : null;
      say(t("review_labels.too_small"), true);
    }
  }
  state.drag = null;
  render();
}

function nudge(dx, dy, grow) {
  const b = state.boxes.find((x) => x.box_id === state.selected);
  if (!b) return;
  const box = { ...b.box };
  if (grow) {
    box.x2 = clamp(box.x2 + dx);
    box.y2 = clamp(box.y2 + dy);
    if (box.x2 - box.x1 < 0.005 || box.y2 - box.y1 < 0.005) return;
  } else {
    const mx = Math.min(Math.max(dx, -box.x1), 1 - box.x2);
    const my = Math.min(Math.max(dy, -box.y1), 1 - box.y2);
    box.x1 += mx; box.x2 += mx; box.y1 += my; box.y2 += my;
  }
  b.box = box;
  b.changed = true;
  render();
}

function selectNext(step) {
  if (!state.boxes.length) return;
  const i = state.boxes.findIndex((b) => b.box_id === state.selected);
  state.selected = state.boxes[(i + step + state.boxes.length) % state.boxes.length].box_id;
  render();
}

function rounded(box) {
  const r = (v) => Math.round(v * 1e5) / 1e5;
  return { x1: r(box.x1), y1: r(box.y1), x2: r(box.x2), y2: r(box.y2) };
}

async function save() {
  try {
    for (const b of state.boxes.filter((x) => x.changed)) {
      const body = b.isNew
        ? { action: "add", box: rounded(b.box), class_name: b.class_name }
        : { action: "fix", box_id: b.box_id, box: rounded(b.box) };
      await api.post(`cases/${caseId}/labels/boxes`, body);
      b.changed = false;
    }
    if (state.reason !== null) {
      const [, code, detail] = REASONS[state.reason];
      const structured = { code };
      if (detail) structured.detail = detail;
      if (code === "wrong_object") {
        const selected = state.boxes.find((b) => b.box_id === state.selected);
        if (!selected || selected.isNew) throw new ApiError(422, t("review_labels.pick_box"));
        structured.box_id = selected.box_id;
        structured.really_is = $("rl-really").value;
      }
      if (code === "duplicate") structured.duplicate_of = Number($("rl-duplicate").value) || 0;
      const note = $("rl-note").value.trim();
      await api.post(`cases/${caseId}/review`, {
        verdict: $("rl-verdict").value,
        reason: note || null,
        structured,
      });
      state.reason = null;
    }
    say(t("review_labels.saved"), false);
  } catch (err) {
    say(err instanceof ApiError ? err.message : t("common.network_error", { detail: String(err) }), true);
  }
  await load();
}

function onKey(event) {
  const target = event.target;
  if (target instanceof HTMLInputElement || target instanceof HTMLSelectElement) {
    if (event.key === "Enter") { event.preventDefault(); save(); }
    return;
  }
  const step = event.shiftKey ? NUDGE * 10 : NUDGE;
  const arrows = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] };
  if (event.key in arrows) {
    event.preventDefault();
    nudge(...arrows[event.key], event.altKey);
    return;
  }
  const reason = REASONS.findIndex(([key]) => key === event.key);
  if (reason >= 0) {
    state.reason = state.reason === reason ? null : reason;
    if (REASONS[reason][1] === "duplicate") $("rl-duplicate").focus();
    render();
  } else if (event.key === "b") {
    state.drawing = true;
    say(t("review_labels.draw_hint"), false);
  } else if (event.key === "n" || event.key === "Tab") {
    if (event.key === "Tab" && event.shiftKey) return;
    if (event.key === "Tab" && !state.boxes.length) return;
    event.preventDefault();
    selectNext(1);
  } else if (event.key === "e") {
    const verdict = $("rl-verdict");
    verdict.value = verdict.value === "reject" ? "escalate" : "reject";
  } else if (event.key === "Escape") {
    state.drawing = false;
    state.reason = null;
    render();
  } else if (event.key === "Enter") {
    event.preventDefault();
    save();
  } else {
    return;
  }
  event.stopPropagation();
}

async function start() {
  if (!root || !caseId) return;
  try {
    await loadCatalog();
    root.addEventListener("keydown", onKey);
    $("rl-save").addEventListener("click", save);
    await load();
  } catch (err) {
    say(err instanceof ApiError ? err.message : t("common.network_error", { detail: String(err) }), true);
    root.dataset.ready = "true";
  }
}

start();
