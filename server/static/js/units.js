// The unit tree (GET /api/v1/units, scoped to the login's subtree) for pickers and the map.
"use strict";
import { api } from "./api.js";
import { el, LOCALE } from "./i18n.js";

// Every unit once, parents before children, with its depth, from GET /units ({roots: a
// tree of {children: [...]}}; a flat list with parent_id works too).
export function flatten(body) {
  const roots = Array.isArray(body) ? body : body.roots || body.items || [body];
  const out = [];
  const seen = new Set();
  const walk = (unit, depth) => {
    if (!unit || seen.has(unit.id)) return;
    seen.add(unit.id);
    out.push({ ...unit, depth });
    for (const child of unit.children || []) walk(child, depth + 1);
  };
  for (const unit of roots) walk(unit, 0);
  const byId = new Map(out.map((u) => [u.id, u]));
  for (const unit of out) { // a flat list: depth from the parents
    let depth = 0;
    for (let p = byId.get(unit.parent_id); p && depth < 8; p = byId.get(p.parent_id)) depth += 1;
    unit.depth = Math.max(unit.depth, depth);
  }
  return out;
}

export function unitName(unit) {
  return LOCALE === "en" && unit.name_en ? unit.name_en : unit.name;
}

let cached = null;
export function loadUnits() {
  if (!cached) {
    cached = api.get("units?outlines=true").then(flatten);
    cached.catch(() => { cached = null; }); // ask again next time
  }
  return cached;
}

// Fill a <select> with the tree (indented by level); keeps its first option ("all").
export async function fillUnitSelect(select, { levels } = {}) {
  const units = await loadUnits();
  for (const unit of units) {
    if (levels && !levels.includes(unit.level)) continue;
    select.append(el("option", { value: unit.id,
      textContent: `${"\u3000".repeat(unit.depth)}${unitName(unit)}` }));
  }
  return units;
}
