// The map (/map, 摊一张图): unit outlines (GeoJSON from GET /api/v1/units), cameras (GET
// /api/v1/cameras, lat/lon) and cases at their camera, per unit, with hotspots by violation
// type (cases binned on a grid, circles by count). Drawn as SVG in Web Mercator; offline by
// default, an intranet tile server (map_tile_url) adds <image> tiles underneath.
"use strict";
import { api } from "./api.js";
import { svg } from "./charts.js";
import { el, label, loadCatalog, say, t } from "./i18n.js";
import { fillUnitSelect, unitName } from "./units.js";

const WIDTH = 960;
const HEIGHT = 600;
const CELL_PX = 28;
const MAX_CASES = 1000;
const TILE_URL = document.body.dataset.tileUrl || "";
const TYPES = ["street_stall", "cross_door", "muck_truck", "construction"];
const mapBox = document.getElementById("map");
const unitFilter = document.getElementById("unit-filter");
const violationFilter = document.getElementById("violation-filter");
const hotspots = document.getElementById("hotspots");
let units = [];
let cameras = [];
let cases = [];

function world(lon, lat, scale) {
  const s = Math.sin((Math.max(-85, Math.min(85, lat)) * Math.PI) / 180);
  return [((lon + 180) / 360) * scale, (0.5 - Math.log((1 + s) / (1 - s)) / (4 * Math.PI)) * scale];
}

function rings(geometry) {
  if (!geometry) return [];
  if (geometry.type === "Polygon") return geometry.coordinates;
  if (geometry.type === "MultiPolygon") return geometry.coordinates.flat();
  if (geometry.type === "Feature") return rings(geometry.geometry);
  if (geometry.type === "FeatureCollection") return geometry.features.flatMap((f) => rings(f.geometry));
  return [];
}

function cameraKey(edge, camera) { return `${edge}/${camera}`; }

function inScope(unit, rootId) {
  if (!rootId) return true;
  const byId = new Map(units.map((u) => [u.id, u]));
  for (let u = unit; u; u = byId.get(u.parent_id)) if (u.id === rootId) return true;
  return false;
}

function centroid(ring) {
  const n = ring.length || 1;
  return [ring.reduce((a, p) => a + p[0], 0) / n, ring.reduce((a, p) => a + p[1], 0) / n];
}

function draw() {
  const root = unitFilter.value;
  const type = violationFilter.value;
  const byId = new Map(units.map((u) => [u.id, u]));
  const shownUnits = units.filter((u) => inScope(u, root) && rings(u.outline).length);
  const shownCameras = cameras.filter((c) => typeof c.lat === "number" && typeof c.lon === "number"
    && (!root || inScope(byId.get(c.unit_id), root)));
  const where = new Map(shownCameras.map((c) => [cameraKey(c.edge_id, c.camera_id), [c.lon, c.lat]]));
  const unitCentre = new Map(shownUnits.map((u) => [u.id, centroid(rings(u.outline)[0])]));
  const placed = cases.filter((c) => !type || c.violation_type === type).map((c) => ({
    item: c, lonlat: where.get(cameraKey(c.edge_id, c.camera_id)) || unitCentre.get(c.unit_id) })).filter((p) => p.lonlat);
  const points = [...shownUnits.flatMap((u) => rings(u.outline).flat()), ...shownCameras.map((c) => [c.lon, c.lat])];
  if (!points.length) {
    mapBox.replaceChildren(el("p", { className: "muted", textContent: t("map.nothing") }));
    return;
  }
  // scale (world pixels) so the bounding box fits; whole zoom levels when tiles are drawn
  const unit = points.map(([lon, lat]) => world(lon, lat, 1));
  const xs = unit.map((p) => p[0]);
  const ys = unit.map((p) => p[1]);
  const spanX = Math.max(1e-9, Math.max(...xs) - Math.min(...xs));
  const spanY = Math.max(1e-9, Math.max(...ys) - Math.min(...ys));
  let scale = Math.min((WIDTH * 0.9) / spanX, (HEIGHT * 0.9) / spanY, 256 * 2 ** 19);
  let zoom = null;
  if (TILE_URL) { zoom = Math.max(0, Math.min(19, Math.floor(Math.log2(scale / 256)))); scale = 256 * 2 ** zoom; }
  const cx = ((Math.max(...xs) + Math.min(...xs)) / 2) * scale;
  const cy = ((Math.max(...ys) + Math.min(...ys)) / 2) * scale;
  const x0 = cx - WIDTH / 2;
  const y0 = cy - HEIGHT / 2;
  const project = ([lon, lat]) => { const [x, y] = world(lon, lat, scale); return [x - x0, y - y0]; };
  const chart = svg("svg", { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, width: WIDTH, height: HEIGHT, class: "map-svg", "data-cases": placed.length });
  if (zoom !== null) {
    const tiles = svg("g", { class: "tiles" });
    for (let tx = Math.floor(x0 / 256); tx * 256 < x0 + WIDTH; tx += 1) {
      for (let ty = Math.floor(y0 / 256); ty * 256 < y0 + HEIGHT; ty += 1) {
        if (ty < 0 || ty >= 2 ** zoom) continue;
        const wrapped = ((tx % 2 ** zoom) + 2 ** zoom) % 2 ** zoom;
        const href = TILE_URL.replace("{z}", zoom).replace("{x}", wrapped).replace("{y}", ty);
        tiles.append(svg("image", { href, x: tx * 256 - x0, y: ty * 256 - y0, width: 256, height: 256 }));
      }
    }
    chart.append(tiles);
  }
  const outlines = svg("g", { class: "outlines" });
  for (const u of [...shownUnits].sort((a, b) => a.depth - b.depth)) {
    const d = rings(u.outline).map((ring) => `M${ring.map((p) => project(p).map((v) => v.toFixed(1)).join(",")).join("L")}Z`).join("");
    const path = svg("path", { d, class: `unit level-${u.level}`, "data-unit-id": u.id });
    const title = svg("title");
    title.textContent = unitName(u);
    path.append(title);
    outlines.append(path);
    if (u.level === "street" || (u.level === "district" && !shownUnits.some((s) => s.level === "street"))) {
      const [lx, ly] = project(centroid(rings(u.outline)[0]));
      const name = svg("text", { x: lx.toFixed(1), y: ly.toFixed(1), class: "unit-name", "text-anchor": "middle" });
      name.textContent = unitName(u);
      outlines.append(name);
    }
  }
  chart.append(outlines);
  if (hotspots.checked) {
    const cells = new Map();
    for (const p of placed) {
      const [x, y] = project(p.lonlat);
      const key = `${p.item.violation_type}|${Math.floor(x / CELL_PX)}|${Math.floor(y / CELL_PX)}`;
      const cell = cells.get(key) || { type: p.item.violation_type, n: 0, x: 0, y: 0 };
      cell.n += 1; cell.x += x; cell.y += y;
      cells.set(key, cell);
    }
    const heat = svg("g", { class: "hotspots" });
    for (const cell of [...cells.values()].sort((a, b) => b.n - a.n)) {
      const circle = svg("circle", { cx: (cell.x / cell.n).toFixed(1), cy: (cell.y / cell.n).toFixed(1),
        r: (8 + 6 * Math.sqrt(cell.n)).toFixed(1), class: `hotspot ${cell.type}`, "data-count": cell.n });
      const title = svg("title");
      title.textContent = `${label("common.violation", cell.type)}: ${cell.n}`;
      circle.append(title);
      heat.append(circle);
    }
    chart.append(heat);
  }
  const cams = svg("g", { class: "cameras" });
  for (const c of shownCameras) {
    const [x, y] = project([c.lon, c.lat]);
    const mark = svg("rect", { x: (x - 4).toFixed(1), y: (y - 4).toFixed(1), width: 8, height: 8, class: "camera", "data-camera": c.camera_id });
    const title = svg("title");
    title.textContent = `${t("map.camera")} ${c.name || c.camera_id} (${c.edge_id}/${c.camera_id})`;
    mark.append(title);
    cams.append(mark);
  }
  chart.append(cams);
  const dots = svg("g", { class: "cases" });
  for (const p of placed) {
    const [x, y] = project(p.lonlat);
    const jitter = ((p.item.id * 7919) % 13) - 6;
    const link = svg("a", { href: `/cases/${p.item.id}` });
    const dot = svg("circle", { cx: (x + jitter).toFixed(1), cy: (y - 8 + (jitter % 5)).toFixed(1), r: 4,
      class: `case-dot ${p.item.violation_type} ${p.item.status}`, "data-case-id": p.item.id });
    const title = svg("title");
    title.textContent = `#${p.item.id} ${label("common.violation", p.item.violation_type)} · ${label("common.status", p.item.status)}`;
    dot.append(title);
    link.append(dot);
    dots.append(link);
  }
  chart.append(dots);
  mapBox.replaceChildren(chart);
  document.getElementById("map-summary").textContent = t("map.summary", { units: shownUnits.length, cameras: shownCameras.length, cases: placed.length });
  mapBox.dataset.ready = "true";
}

function legend() {
  document.getElementById("legend").replaceChildren(el("h2", { textContent: t("map.legend") }),
    el("ul", {}, ...TYPES.map((type) => el("li", {}, el("span", { className: `swatch ${type}` }), label("common.violation", type))),
      el("li", {}, el("span", { className: "swatch camera" }), t("map.camera"))));
}

async function loadCases() {
  const out = [];
  const params = new URLSearchParams({ limit: "200" });
  if (unitFilter.value) params.set("unit_id", unitFilter.value);
  for (let offset = 0; offset < MAX_CASES; offset += 200) {
    params.set("offset", String(offset));
    const page = await api.get(`cases?${params}`);
    out.push(...page.items);
    if (offset + page.items.length >= page.total || !page.items.length) break;
  }
  return out;
}

async function refresh() {
  try {
    cases = await loadCases();
    say("", false);
  } catch (err) {
    say(t("map.failed", { detail: err.message }), true);
  }
  draw();
}

async function start() {
  await loadCatalog();
  legend();
  units = await fillUnitSelect(unitFilter, { levels: ["city", "district", "street"] }).catch((err) => {
    say(t("map.failed", { detail: err.message }), true);
    return [];
  });
  try {
    const body = await api.get("cameras");
    cameras = Array.isArray(body) ? body : body.items || [];
  } catch (err) {
    cameras = [];
    say(t("map.no_cameras", { detail: err.message }), true);
  }
  unitFilter.addEventListener("change", refresh);
  violationFilter.addEventListener("change", draw);
  hotspots.addEventListener("change", draw);
  await refresh();
}
start();
