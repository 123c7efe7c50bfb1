// The statistics page (/stats): GET /api/v1/stats (scoped to the login's subtree) drawn
// as tiles and SVG charts (js/charts.js): counts by day, unit, violation type and status;
// the confirm rate per camera and per model version; median time to close; overdue.
"use strict";
import { api } from "./api.js";
import { barChart, lineChart } from "./charts.js";
import { dayStart, duration, el, label, loadCatalog, say, t } from "./i18n.js";
import { fillUnitSelect, unitName } from "./units.js";

const unitFilter = document.getElementById("unit-filter");
const since = document.getElementById("since-filter");
const until = document.getElementById("until-filter");
let units = [];

function put(id, chart, emptyKey = "stats.no_data") {
  const section = document.getElementById(id);
  const heading = section.querySelector("h2");
  section.replaceChildren(heading, chart || el("p", { className: "muted", textContent: t(emptyKey) }));
}

function count(row) { return row.count ?? row.total ?? row.value ?? 0; }
function rate(row) {
  if (typeof row.confirm_rate === "number") return row.confirm_rate;
  if (typeof row.rate === "number") return row.rate;
  return row.reviewed ? row.confirmed / row.reviewed : 0;
}

function bars(rows, name, options) {
  return rows.length ? barChart(rows.map((r) => ({ label: name(r), value: options && options.percent ? rate(r) : count(r),
    title: options && options.percent ? t("stats.rate_title", { confirmed: r.confirmed ?? "?", reviewed: r.reviewed ?? "?" }) : null })), options) : null;
}

function tile(key, value, className) {
  return el("div", { className: `tile ${className || ""}`, dataset: { tile: key } },
    el("span", { className: "tile-value", textContent: value }), el("span", { className: "tile-label", textContent: t(key) }));
}

async function refresh() {
  const params = new URLSearchParams();
  if (unitFilter.value) params.set("unit_id", unitFilter.value);
  if (since.value) params.set("since", dayStart(since.value));
  if (until.value) {
    const next = new Date(`${until.value}T00:00:00+08:00`);
    next.setUTCDate(next.getUTCDate() + 1);
    params.set("until", next.toISOString());
  }
  let s;
  try {
    s = await api.get(`stats?${params}`);
  } catch (err) {
    say(t("stats.failed", { detail: err.message }), true);
    return;
  }
  say("", false);
  const byId = new Map(units.map((u) => [u.id, u]));
  const unitLabel = (r) => (r.unit_id && byId.has(r.unit_id) ? unitName(byId.get(r.unit_id)) : r.unit_name || r.unit_id || t("common.no_unit"));
  const byStatus = s.by_status || [];
  const total = s.total ?? byStatus.reduce((a, r) => a + count(r), 0);
  const median = s.median_time_to_close_s ?? s.median_close_s ?? null;
  document.getElementById("tiles").replaceChildren(
    tile("stats.total", String(total)),
    tile("stats.overdue", String(s.overdue ?? s.overdue_count ?? 0), "warn"),
    tile("stats.median_close", median === null ? "—" : duration(median)),
    tile("stats.closed", String(byStatus.filter((r) => r.status === "closed").reduce((a, r) => a + count(r), 0))));
  const days = s.by_day || [];
  put("by-day", days.length ? lineChart(days.map((r) => ({ label: r.day || r.date, value: count(r) }))) : null);
  put("by-unit", bars(s.by_unit || [], unitLabel));
  put("by-type", bars(s.by_violation_type || s.by_type || [], (r) => label("common.violation", r.violation_type || r.type)));
  put("by-status", bars(byStatus, (r) => label("common.status", r.status)));
  put("rate-camera", bars(s.confirm_rate_by_camera || s.by_camera || [], (r) => r.camera_id, { percent: true }));
  put("rate-model", bars(s.confirm_rate_by_model || s.by_model_version || s.by_model || [],
    (r) => `${r.model_name ? `${r.model_name} ` : ""}v${r.model_version || r.version}`, { percent: true }));
  document.getElementById("stats").dataset.ready = "true";
}

async function start() {
  await loadCatalog();
  units = await fillUnitSelect(unitFilter).catch(() => []);
  for (const input of [unitFilter, since, until]) input.addEventListener("change", refresh);
  await refresh();
}
start();
