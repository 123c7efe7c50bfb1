// The statistics page (/stats): GET /api/v1/stats (scoped to the login's subtree) drawn
// as tiles and SVG charts (js/charts.js): counts by day, unit, violation type and status;
// the confirm rate per camera and per model version; median time to close; overdue.
"use strict";
import { api } from "./api.js";
import { barChart, lineChart } from "./charts.js";
import { dayStart, duration, el, label, loadCatalog, LOCALE, say, t } from "./i18n.js";
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

// Rows of GET /api/v1/stats (server/stats/schemas.py): {key|unit_id|day, count} and
// confirm rates {key, reviewed, confirmed, rate}.
function bars(rows, name) {
  return rows.length ? barChart(rows.map((r) => ({ label: name(r), value: r.count }))) : null;
}

function rates(rows, name) {
  const known = rows.filter((r) => r.rate !== null && r.rate !== undefined);
  return known.length ? barChart(known.map((r) => ({ label: name(r), value: r.rate,
    title: `${r.key}: ${t("stats.rate_title", { confirmed: r.confirmed, reviewed: r.reviewed })}` })),
  { percent: true }) : null;
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
  const unitLabel = (r) => (r.unit_id && byId.has(r.unit_id) ? unitName(byId.get(r.unit_id))
    : (LOCALE === "en" ? r.name_en : r.name) || r.unit_id || t("common.no_unit"));
  document.getElementById("tiles").replaceChildren(
    tile("stats.total", String(s.total)),
    tile("stats.closed", String(s.closed)),
    tile("stats.median_close", s.median_close_s === null ? "—" : duration(s.median_close_s)),
    tile("stats.overdue", String(s.overdue), "warn"),
    tile("stats.overdue_open", String(s.overdue_open), "warn"));
  put("by-day", s.by_day.length ? lineChart(s.by_day.map((r) => ({ label: r.day, value: r.count }))) : null);
  put("by-unit", bars(s.by_subunit.length ? s.by_subunit : s.by_unit, unitLabel));
  put("by-type", bars(s.by_violation_type, (r) => label("common.violation", r.key)));
  put("by-status", bars(s.by_status, (r) => label("common.status", r.key)));
  put("rate-camera", rates(s.confirm_rate_by_camera, (r) => r.key.split("/").pop()));
  put("rate-model", rates(s.confirm_rate_by_model_version, (r) => `v${r.key}`));
  document.getElementById("truncated").hidden = !s.truncated;
  document.getElementById("stats").dataset.ready = "true";
}

async function start() {
  await loadCatalog();
  units = await fillUnitSelect(unitFilter).catch(() => []);
  for (const input of [unitFilter, since, until]) input.addEventListener("change", refresh);
  await refresh();
}
start();
