// /cameras/{id}/zones: draw and edit a camera's zones on its latest snapshot, validate them
// as `civicwatch zones validate` does (messages beside the shape at fault), save a new
// version (409 when someone saved meanwhile), see diffs, roll back, and watch the edge
// report the version it runs. Zones are kept in 0..1 of the frame and drawn in the stage's CSS
// pixels (text keeps its natural aspect, labels.js); the stage takes the snapshot's aspect, so
// 0..1 maps exactly onto the image.
"use strict";
import { csrfToken, api } from "/static/js/api.js";
import { el, loadCatalog, say, t, when } from "/static/js/i18n.js";
import { zoneLabels } from "/static/cameras/labels.js";

const SVG = "http://www.w3.org/2000/svg";
const CAMERA = document.body.dataset.camera;
const POLL_MS = 2500;
const DEFAULT_OBJECTS = {
  no_vending: ["stall", "goods"], shop_frontage: ["goods", "stall"],
  road: ["truck"], construction_site: ["bare_soil", "dust_net"],
};
const KIND_KEYS = {
  shop_frontage: ["shop", "door_line", "business_hours"], road: ["crossing_line"], construction_site: ["site_id"],
};

const HANDLE_PX = 5;
const DRAFT_HANDLE_PX = 4;

const state = { doc: { zones: [] }, base: null, reference: null, selected: -1, tool: null, draft: [], problems: [], drag: null,
  size: [1, 1] };
const canvas = document.getElementById("canvas");
const stage = document.getElementById("stage");
const snapshot = document.getElementById("snapshot");
const fields = document.getElementById("zone-fields");

function svg(tag, attrs) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  return node;
}
const round = (v) => Math.round(Math.min(1, Math.max(0, v)) * 10000) / 10000;
const px = ([x, y]) => [x * state.size[0], y * state.size[1]];
const pts = (points) => points.map((p) => px(p).join(",")).join(" ");
const zone = () => state.doc.zones[state.selected];

function toFrame(event) {
  const box = canvas.getBoundingClientRect();
  return [round((event.clientX - box.left) / box.width), round((event.clientY - box.top) / box.height)];
}

// Problems about a zone (and shape) from the last validation or save.
function problemsOf(index, shape) {
  return state.problems.filter((p) => p.zone_index === index && (shape === undefined || p.shape === shape));
}

// Right click removes: a vertex (the shape keeps at least three), an exclusion or a line.
function removable(node, remove) {
  node.addEventListener("contextmenu", (event) => {
    event.preventDefault();
    if (state.tool) return;
    remove();
    state.problems = [];
    showFields(); draw();
  });
  return node;
}

function handle(points, i, index) {
  const [cx, cy] = px(points[i]);
  const dot = svg("circle", { cx, cy, r: HANDLE_PX, class: "handle" });
  if (points.length > 3) removable(dot, () => points.splice(i, 1));
  dot.addEventListener("pointerdown", (event) => {
    if (state.tool || event.button !== 0) return;
    event.stopPropagation();
    state.selected = index;
    state.drag = { points, i };
    canvas.setPointerCapture(event.pointerId);
  });
  return dot;
}

function draw() {
  canvas.replaceChildren();
  state.doc.zones.forEach((z, index) => {
    const chosen = index === state.selected;
    const bad = problemsOf(index).length > 0;
    const group = svg("g", { class: `zone${chosen ? " selected" : ""}${bad ? " bad" : ""}`, "data-zone": z.id || String(index) });
    if (z.polygon && z.polygon.length) {
      const shape = svg("polygon", { points: pts(z.polygon), class: `outline${problemsOf(index, "polygon").length ? " bad" : ""}` });
      shape.addEventListener("pointerdown", () => { if (!state.tool) { state.selected = index; showFields(); draw(); } });
      group.append(shape);
    }
    (z.exclusions || []).forEach((ex, k) => group.append(removable(svg("polygon", { points: pts(ex), class: "exclusion" }),
      () => z.exclusions.splice(k, 1))));
    for (const key of ["door_line", "crossing_line"]) {
      const line = z[key];
      if (line && line.points) {
        const [[x1, y1], [x2, y2]] = line.points.map(px);
        group.append(removable(svg("line", { x1, y1, x2, y2, class: `${key}${problemsOf(index, key).length ? " bad" : ""}` }),
          () => { delete z[key]; }));
      }
    }
    canvas.append(group);
    const anchor = px((z.polygon && z.polygon[0]) || [0.02, 0.05]);
    const messages = problemsOf(index).map((p) => ({ short: p.message.replace(/^[^ ]+: /, ""), full: p.message }));
    zoneLabels(group, anchor, state.size, z.id || "?", messages);
    if (chosen) { // over the labels, so a corner under a message can still be dragged
      const shapes = [z.polygon || [], ...(z.exclusions || [])];
      for (const key of ["door_line", "crossing_line"]) if (z[key] && z[key].points) shapes.push(z[key].points);
      for (const points of shapes) points.forEach((_, i) => group.append(handle(points, i, index)));
    }
  });
  if (state.draft.length) {
    canvas.append(svg("polyline", { points: pts(state.draft), class: "draft" }));
    state.draft.map(px).forEach(([cx, cy]) => canvas.append(svg("circle", { cx, cy, r: DRAFT_HANDLE_PX, class: "handle" })));
  }
  document.querySelectorAll("#zone-list li").forEach((li, i) => li.classList.toggle("selected", i === state.selected));
}

function listZones() {
  const items = state.doc.zones.map((z, index) => {
    const li = el("li", { textContent: `${z.id || "?"} · ${t(`cameras.kind.${z.kind}`)}`, dataset: { index: String(index) } });
    li.addEventListener("click", () => { state.selected = index; showFields(); draw(); });
    return li;
  });
  document.getElementById("zone-list").replaceChildren(...items);
}

function csv(value) { return value.split(",").map((s) => s.trim()).filter(Boolean); }

function showFields() {
  const z = zone();
  fields.hidden = !z;
  if (!z) return;
  const f = fields.elements;
  f.id.value = z.id || ""; f.name.value = z.name || ""; f.kind.value = z.kind;
  f.objects.value = (z.objects || []).join(", ");
  f.dwell_s.value = z.dwell_s ?? ""; f.inertia.value = z.inertia ?? "";
  f.legal_hours.value = (z.legal_hours || []).join(", ");
  f.shop_id.value = z.shop ? z.shop.id : ""; f.shop_name.value = z.shop ? z.shop.name : "";
  f.street_side.value = z.door_line ? z.door_line.street_side : "below";
  f.business_hours.value = (z.business_hours || []).join(", ");
  f.direction.value = z.crossing_line ? z.crossing_line.direction || "any" : "any";
  f.site_id.value = z.site_id || "";
  fields.querySelectorAll("fieldset[data-kind]").forEach((set) => { set.hidden = set.dataset.kind !== z.kind; });
}

function readFields() {
  const z = zone();
  if (!z) return;
  const f = fields.elements;
  z.id = f.id.value.trim(); z.name = f.name.value.trim();
  if (z.kind !== f.kind.value) {
    for (const key of KIND_KEYS[z.kind] || []) delete z[key];
    z.kind = f.kind.value;
  }
  z.objects = csv(f.objects.value);
  for (const key of ["dwell_s", "inertia"]) {
    if (f[key].value === "") delete z[key]; else z[key] = key === "inertia" ? parseInt(f[key].value, 10) : Number(f[key].value);
  }
  const hours = csv(f.legal_hours.value);
  if (hours.length) z.legal_hours = hours; else delete z.legal_hours;
  if (z.kind === "shop_frontage") {
    z.shop = { id: f.shop_id.value.trim(), name: f.shop_name.value.trim() };
    if (z.door_line) z.door_line.street_side = f.street_side.value;
    const open = csv(f.business_hours.value);
    if (open.length) z.business_hours = open; else delete z.business_hours;
  }
  if (z.kind === "road" && z.crossing_line) z.crossing_line.direction = f.direction.value;
  if (z.kind === "construction_site") { if (f.site_id.value.trim()) z.site_id = f.site_id.value.trim(); else delete z.site_id; }
  listZones(); showFields(); draw();
}

function setTool(tool) {
  state.tool = tool; state.draft = [];
  document.querySelectorAll("[data-tool]").forEach((b) => b.classList.toggle("active", b.dataset.tool === tool));
  document.getElementById("tool-hint").textContent = t(`cameras.editor.hint.${tool || "edit"}`);
  draw();
}

function finishShape() {
  const z = zone();
  const { tool, draft } = state;
  if (!z || !tool) return setTool(null);
  if ((tool === "polygon" || tool === "exclusion") && draft.length >= 3) {
    if (tool === "polygon") z.polygon = draft; else (z.exclusions = z.exclusions || []).push(draft);
  } else if ((tool === "door_line" || tool === "crossing_line") && draft.length === 2) {
    z[tool] = tool === "door_line" ? { points: draft, street_side: fields.elements.street_side.value }
      : { points: draft, direction: fields.elements.direction.value };
  }
  setTool(null);
}

// The SVG's user units are the stage's CSS pixels (no viewBox: no stretching); shapes are
// redrawn when the stage changes size. The stage takes the snapshot's aspect (16:9 until then).
new ResizeObserver(() => {
  const box = canvas.getBoundingClientRect();
  if (!box.width || !box.height) return;
  state.size = [box.width, box.height];
  draw();
}).observe(canvas);
snapshot.addEventListener("load", () => {
  stage.style.setProperty("--snapshot-ratio", `${snapshot.naturalWidth} / ${snapshot.naturalHeight}`);
});
snapshot.addEventListener("error", () => stage.style.removeProperty("--snapshot-ratio"));

canvas.addEventListener("click", (event) => {
  if (!state.tool) return;
  if (!zone()) { say(t("cameras.editor.pick_zone"), true); return; }
  state.draft.push(toFrame(event));
  if ((state.tool === "door_line" || state.tool === "crossing_line") && state.draft.length === 2) finishShape();
  else draw();
});
canvas.addEventListener("pointermove", (event) => {
  if (!state.drag) return;
  state.drag.points[state.drag.i] = toFrame(event);
  draw();
});
canvas.addEventListener("pointerup", () => { if (state.drag) { state.drag = null; showFields(); } });
document.querySelectorAll("[data-tool]").forEach((b) => b.addEventListener("click", () => setTool(b.dataset.tool)));
document.getElementById("finish-shape").addEventListener("click", finishShape);
document.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && state.tool) { event.preventDefault(); finishShape(); }
  if (event.key === "Escape") setTool(null);
});
fields.addEventListener("change", readFields);

document.getElementById("add-zone").addEventListener("click", () => {
  const kind = document.getElementById("new-kind").value;
  const n = state.doc.zones.length + 1;
  const z = { id: `zone-${n}`, name: `${t(`cameras.kind.${kind}`)} ${n}`, kind, polygon: [], objects: DEFAULT_OBJECTS[kind] };
  if (kind === "shop_frontage") z.shop = { id: "", name: "" };
  state.doc.zones.push(z);
  state.selected = state.doc.zones.length - 1;
  listZones(); showFields(); setTool("polygon");
});
document.getElementById("delete-zone").addEventListener("click", () => {
  if (state.selected < 0) return;
  state.doc.zones.splice(state.selected, 1);
  state.selected = -1; state.problems = [];
  listZones(); showFields(); draw();
});

function showProblems(problems) {
  state.problems = problems;
  const items = problems.map((p) => el("li", { textContent: p.message, title: p.message, dataset: { zone: p.zone_id || "", shape: p.shape || "" } }));
  document.getElementById("problems").replaceChildren(...items);
  draw();
}

// POST with the CSRF header, keeping the structured error detail (problems, conflict).
async function send(path, body) {
  const response = await fetch(`/api/v1/${path}`, { method: "POST", credentials: "same-origin", cache: "no-store",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": csrfToken() }, body: JSON.stringify(body) });
  const data = await response.json().catch(() => ({}));
  return { status: response.status, data };
}

function documentToSend() { readFields(); return { zones: state.doc.zones }; }

document.getElementById("validate").addEventListener("click", async () => {
  const { status, data } = await send(`cameras/${CAMERA}/zones/validate`, { document: documentToSend() });
  if (status !== 200) { say(typeof data.detail === "string" ? data.detail : `HTTP ${status}`, true); return; }
  showProblems(data.problems);
  say(data.valid ? t("cameras.editor.valid") : t("cameras.editor.invalid", { n: data.problems.length }), !data.valid);
});

document.getElementById("save").addEventListener("click", async () => {
  const body = { document: documentToSend(), base_version: state.base,
    comment: document.getElementById("comment").value, reference_sha256: state.reference };
  const { status, data } = await send(`cameras/${CAMERA}/zones`, body);
  if (status === 201) {
    showProblems([]);
    load(data);
    document.getElementById("comment").value = "";
    say(t("cameras.editor.saved", { v: data.version }));
    await versions();
  } else if (status === 409) {
    say(t("cameras.editor.conflict", { v: data.detail.current_version ?? "?" }), true);
    document.getElementById("apply-status").textContent = data.detail.message || "";
  } else if (status === 422 && data.detail && data.detail.problems) {
    showProblems(data.detail.problems);
    say(t("cameras.editor.invalid", { n: data.detail.problems.length }), true);
  } else {
    say(typeof data.detail === "string" ? data.detail : `HTTP ${status}`, true);
  }
});

function load(version) {
  state.doc = version.document;
  state.doc.zones = state.doc.zones || [];
  state.base = version.version;
  if (!state.reference) state.reference = version.reference_sha256;
  state.selected = state.doc.zones.length ? 0 : -1;
  document.getElementById("version").textContent = t("cameras.editor.version", { v: version.version, author: version.author });
  listZones(); showFields(); draw();
}

async function versions() {
  const list = await api.get(`cameras/${CAMERA}/zones`);
  const items = list.items.map((v) => {
    const diff = el("button", { type: "button", textContent: t("cameras.editor.diff") });
    diff.addEventListener("click", async () => {
      const d = await api.get(`cameras/${CAMERA}/zones/${v.version}/diff`);
      const summary = t("cameras.editor.diff_summary", { added: d.added.join(", ") || "—", removed: d.removed.join(", ") || "—",
        changed: d.changed.map((c) => `${c.zone_id} (${c.fields.join(", ")})`).join("; ") || "—" });
      document.getElementById("diff").textContent = `${summary}\n\n${d.unified}`;
    });
    const back = el("button", { type: "button", textContent: t("cameras.editor.rollback") });
    back.hidden = v.version === state.base;
    back.addEventListener("click", async () => {
      const { status, data } = await send(`cameras/${CAMERA}/zones/rollback`, { to_version: v.version, base_version: state.base, comment: "" });
      if (status === 201) { load(data); say(t("cameras.editor.saved", { v: data.version })); await versions(); }
      else say(status === 409 ? t("cameras.editor.conflict", { v: data.detail.current_version ?? "?" }) : `HTTP ${status}`, true);
    });
    return el("li", {}, el("strong", { textContent: `v${v.version} ` }), when(v.created_at),
      el("span", { textContent: ` ${v.author} ${v.comment}` }), " ", diff, " ", back);
  });
  document.getElementById("versions").replaceChildren(...items);
}

async function applyStatus() {
  const camera = await api.get(`cameras/${CAMERA}`);
  document.getElementById("camera-name").textContent = `${camera.name} (${camera.edge_id}/${camera.camera_id})`;
  const a = camera.apply;
  const node = document.getElementById("apply-status");
  if (a.applied) { node.textContent = t("cameras.editor.applied", { v: a.applied_zone_version }); node.className = "apply ok"; }
  else if (a.edge_error) { node.textContent = t("cameras.editor.edge_error", { error: a.edge_error }); node.className = "apply error"; }
  else { node.textContent = t("cameras.editor.pending", { v: a.latest_zone_version, running: a.applied_zone_version ?? "—" }); node.className = "apply"; }
}

function showSnapshot(snap) {
  const status = document.getElementById("snapshot-status");
  if (snap.url && snapshot.dataset.sha !== snap.sha256) {
    snapshot.src = snap.url; snapshot.dataset.sha = snap.sha256; state.reference = snap.sha256;
  }
  status.textContent = t(`cameras.snapshot.${snap.status}`);
  status.className = snap.status === "timed_out" ? "error" : "";
  return snap.status;
}

let waiting = null;
document.getElementById("snapshot-button").addEventListener("click", async () => {
  try { showSnapshot(await api.post(`cameras/${CAMERA}/snapshot`, {})); } catch (error) { say(error.message, true); return; }
  clearInterval(waiting);
  waiting = setInterval(async () => {
    const status = showSnapshot(await api.get(`cameras/${CAMERA}/snapshot`));
    if (status !== "waiting") clearInterval(waiting);
  }, POLL_MS);
});

await loadCatalog();
try {
  showSnapshot(await api.get(`cameras/${CAMERA}/snapshot`));
  load(await api.get(`cameras/${CAMERA}/zones/latest`));
  await versions();
  await applyStatus();
} catch (error) { say(error.message, true); }
setInterval(() => applyStatus().catch((error) => say(error.message, true)), POLL_MS);
