// /cameras: every camera of the user's units with its state, a health sparkline (frames
// analysed per sample), open alarms (red row), the zones' apply state; add and disable.
"use strict";
import { api } from "/static/js/api.js";
import { el, loadCatalog, say, t } from "/static/js/i18n.js";
import { fillUnitSelect } from "/static/js/units.js";

const SVG = "http://www.w3.org/2000/svg";
const REFRESH_MS = 5000;

// A small SVG polyline of the analysed-frame rate between samples.
function sparkline(items) {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", "0 0 100 20");
  svg.setAttribute("class", "spark");
  const rates = [];
  for (let i = 1; i < items.length; i += 1) {
    const dt = (new Date(items[i].sampled_at) - new Date(items[i - 1].sampled_at)) / 1000;
    const dn = items[i].frames_analysed - items[i - 1].frames_analysed;
    rates.push(dt > 0 && dn >= 0 ? dn / dt : 0);
  }
  if (rates.length > 1) {
    const top = Math.max(...rates, 0.001);
    const points = rates.map((r, i) => `${(i / (rates.length - 1)) * 100},${20 - (r / top) * 18}`);
    const line = document.createElementNS(SVG, "polyline");
    line.setAttribute("points", points.join(" "));
    svg.append(line);
  }
  const title = document.createElementNS(SVG, "title");
  title.textContent = t("cameras.spark_title");
  svg.append(title);
  return svg;
}

function row(camera, history) {
  const health = camera.health;
  const alarms = camera.alarms.map((a) => `${t(`cameras.alarm.${a.kind}`)}: ${a.detail}`).join("; ");
  const apply = camera.apply;
  const zones = apply.applied ? t("cameras.applied_short", { v: apply.applied_zone_version })
    : apply.edge_error ? t("cameras.refused_short") : t("cameras.pending_short", { v: apply.latest_zone_version ?? "—" });
  const toggle = el("button", { type: "button", textContent: camera.enabled ? t("cameras.disable") : t("cameras.enable") });
  toggle.addEventListener("click", async () => {
    toggle.disabled = true;
    try { await api.patch(`cameras/${camera.id}`, { enabled: !camera.enabled }); await refresh(); }
    catch (error) { say(error.message, true); toggle.disabled = false; }
  });
  const tr = el("tr", { dataset: { camera: String(camera.id), state: camera.state },
    className: camera.alarms.length ? "alarm" : "" },
    el("td", {}, el("strong", { textContent: camera.name }), el("br"), el("small", { textContent: camera.camera_id })),
    el("td", { textContent: camera.edge_id }),
    el("td", { textContent: camera.unit_id }),
    el("td", { className: "state", textContent: t(`cameras.state.${camera.state}`) }),
    el("td", {}, sparkline(history), el("small", { textContent: health ? ` ${health.frames_analysed}/${health.frames_received}` : "" })),
    el("td", { textContent: health && health.last_frame_age_s !== null ? `${health.last_frame_age_s.toFixed(1)} s` : "—" }),
    el("td", { className: "alarms", textContent: alarms || "—" }),
    el("td", { className: "zones" }, el("a", { href: `/cameras/${camera.id}/zones`, textContent: zones })),
    el("td", {}, toggle));
  return tr;
}

async function refresh() {
  const [list, health] = await Promise.all([api.get("cameras"), api.get("cameras/health?limit=60")]);
  const histories = new Map(health.items.map((h) => [h.camera, h.items]));
  const rows = list.items.map((camera) => row(camera, histories.get(camera.id) || []));
  document.querySelector("#cameras tbody").replaceChildren(...rows);
  document.getElementById("empty").hidden = list.items.length > 0;
}

document.getElementById("add-camera").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  const body = {};
  for (const [key, value] of form.entries()) {
    if (value === "") continue;
    body[key] = key === "lat" || key === "lon" ? Number(value) : value;
  }
  try {
    await api.post("cameras", body);
    event.target.reset();
    say(t("cameras.add.done"));
    await refresh();
  } catch (error) { say(error.message, true); }
});

await loadCatalog();
try {
  await fillUnitSelect(document.getElementById("unit-select"), { levels: ["street"] });
  await refresh();
} catch (error) { say(error.message, true); }
setInterval(() => refresh().catch((error) => say(error.message, true)), REFRESH_MS);
