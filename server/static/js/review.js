// The queue (/, js/review.js): cases a page at a time through GET /api/v1/cases with the filters (unit,
// camera, violation, status, overdue, Shanghai date range), each with its evidence-chain
// badge; the quarantine; a refresh every few seconds; verdicts by button or keyboard
// (j/k move, c confirm, r reject, e escalate, Enter opens the case). Confirming a case
// whose chain is not verified asks for an override reason. textContent only.
"use strict";
import { api, ApiError } from "./api.js";
import { dayStart, duration, el, label, loadCatalog, say, shanghai, t, when } from "./i18n.js";
import { chainBadge, overdueBadge, statusBadge } from "./badges.js";
import { fillUnitSelect, unitName } from "./units.js";

const REFRESH_MS = Number(document.body.dataset.refreshS || 5) * 1000;
const THUMB_KINDS = ["annotated", "crop", "frame", "plate", "load"];
const PAGE_SIZE = 50;
const REVIEW_ROLES = new Set(["reviewer", "admin"]);
const ROLE = document.body.dataset.role;

const list = document.getElementById("cases");
const empty = document.getElementById("empty");
const summary = document.getElementById("summary");
const filters = {
  unit: document.getElementById("unit-filter"),
  camera: document.getElementById("camera-filter"),
  violation: document.getElementById("violation-filter"),
  status: document.getElementById("status-filter"),
  overdue: document.getElementById("overdue-filter"),
  since: document.getElementById("since-filter"),
  until: document.getElementById("until-filter"),
};
const csvLink = document.getElementById("csv-link");
const prevButton = document.getElementById("prev-page");
const nextButton = document.getElementById("next-page");
const pageInfo = document.getElementById("page-info");
const quarantineList = document.getElementById("quarantine-list");
const quarantineSummary = document.getElementById("quarantine-summary");
const rendered = new Map(); // case id -> {key, node, item}
let offset = 0;
let selected = null; // case id with the keyboard focus

function filterParams() {
  const params = new URLSearchParams();
  if (filters.unit.value) params.set("unit_id", filters.unit.value);
  if (filters.camera.value.trim() && filters.camera.checkValidity()) params.set("camera_id", filters.camera.value.trim());
  if (filters.violation.value) params.set("violation_type", filters.violation.value);
  if (filters.status.value) params.set("status", filters.status.value);
  if (filters.overdue.checked) params.set("overdue", "true");
  const since = dayStart(filters.since.value);
  if (since) params.set("since", since);
  if (filters.until.value) {
    const next = new Date(`${filters.until.value}T00:00:00+08:00`);
    next.setUTCDate(next.getUTCDate() + 1);
    params.set("until", next.toISOString());
  }
  return params;
}

function thumbs(item) {
  const box = el("div", { className: "thumbs" });
  const shown = item.evidence
    .filter((e) => e.content_type.startsWith("image/"))
    .sort((a, b) => THUMB_KINDS.indexOf(a.kind) - THUMB_KINDS.indexOf(b.kind));
  for (const ev of shown) {
    const caption = el("figcaption", { textContent: label("common.kind", ev.kind) });
    if (ev.available) {
      const img = el("img", { src: ev.url, alt: `${ev.kind} ${ev.sha256.slice(0, 12)}`, loading: "lazy",
        dataset: { kind: ev.kind } });
      box.append(el("figure", {}, el("a", { href: `/cases/${item.id}`, title: `sha256 ${ev.sha256}` }, img), caption));
    } else {
      box.append(el("figure", {}, el("div", { className: "pending", textContent: t("common.evidence_pending") }), caption));
    }
  }
  return box;
}

async function review(item, verdict) {
  let reason = null;
  let override = false;
  if (verdict === "confirm" && item.chain_status !== "verified") {
    reason = window.prompt(t("queue.override_prompt", { id: item.id, chain: label("common.chain", item.chain_status) }), "");
    if (reason === null) return;
    if (!reason.trim()) { say(t("queue.override_needs_reason"), true); return; }
    override = true;
  }
  if (verdict === "reject") {
    reason = window.prompt(t("queue.reject_prompt", { id: item.id }), "");
    if (reason === null) return;
    if (!reason.trim()) { say(t("queue.reject_needs_reason"), true); return; }
  }
  try {
    const body = await api.post(`cases/${item.id}/review`, { verdict, reason, override_chain: override });
    say(t("queue.reviewed", { id: item.id, status: label("common.status", body.status) }), false);
  } catch (err) {
    say(err instanceof ApiError ? t("queue.case_error", { id: item.id, detail: err.message })
      : t("common.network_error", { detail: String(err) }), true);
  }
  await refresh();
}

function card(item) {
  const node = el("article", { className: "case", tabIndex: -1, dataset: { caseId: String(item.id) } });
  const vt = item.violation_type;
  const title = el("h2", {},
    el("a", { href: `/cases/${item.id}`, textContent: `#${item.id} ${label("common.violation", vt)}` }),
    el("span", { className: "en", textContent: vt }),
    statusBadge(item.status), chainBadge(item.chain_status),
    overdueBadge(item),
    el("span", { className: "phase", textContent: item.open ? t("queue.open") : t("queue.ended") }));
  node.append(title);
  const rows = [
    [t("common.field.unit"), unitLabel(item)],
    [t("common.field.camera"), item.camera_id],
    [t("common.field.zone"), item.zone_id],
    [t("common.field.label"), `${item.label} (${Math.round(item.confidence * 100)}%)`],
    [t("common.field.first_seen"), when(item.first_seen)],
    [t("common.field.last_seen"), when(item.last_seen)],
    [t("common.field.dwell"), duration(item.dwell_s)],
  ];
  if (item.deadline_at) rows.push([t("common.field.deadline"), when(item.deadline_at)]);
  if (item.review_reason) rows.push([t("common.field.reason"), item.review_reason]);
  const dl = el("dl");
  for (const [k, v] of rows) dl.append(el("dt", { textContent: k }), el("dd", {}, v));
  node.append(dl, thumbs(item));
  const reviewable = item.status === "candidate" || item.status === "escalated";
  const buttons = ["confirm", "reject", "escalate"].map((verdict) => {
    const b = el("button", { type: "button", textContent: t(`queue.verdict.${verdict}`), dataset: { verdict } });
    b.disabled = !REVIEW_ROLES.has(ROLE) || !reviewable || (item.status === "escalated" && verdict === "escalate");
    b.addEventListener("click", () => { b.disabled = true; review(item, verdict); });
    return b;
  });
  node.append(el("div", { className: "actions" }, ...buttons,
    el("a", { className: "button", href: `/cases/${item.id}`, textContent: t("queue.open_case") })));
  node.addEventListener("click", () => select(item.id, false));
  return node;
}

let unitsById = new Map();
function unitLabel(item) {
  const unit = unitsById.get(item.unit_id);
  return unit ? unitName(unit) : item.unit_name || item.unit_id || t("common.no_unit");
}

function keyOf(item) {
  return `${item.updated_at}|${item.status}|${item.chain_status}|${item.overdue}|`
    + item.evidence.map((e) => e.sha256 + e.available).join(",");
}

function select(id, scroll) {
  for (const entry of rendered.values()) entry.node.classList.remove("selected");
  selected = id;
  const entry = rendered.get(id);
  if (!entry) return;
  entry.node.classList.add("selected");
  entry.node.setAttribute("aria-current", "true");
  if (scroll) { entry.node.scrollIntoView({ block: "nearest" }); entry.node.focus({ preventScroll: true }); }
}

function order() { return [...list.querySelectorAll("article.case")].map((n) => Number(n.dataset.caseId)); }

function move(step) {
  const ids = order();
  if (!ids.length) return;
  const at = ids.indexOf(selected);
  const next = at < 0 ? (step > 0 ? 0 : ids.length - 1) : Math.min(ids.length - 1, Math.max(0, at + step));
  select(ids[next], true);
}

document.addEventListener("keydown", (event) => {
  if (event.altKey || event.ctrlKey || event.metaKey) return;
  const target = event.target;
  if (target instanceof HTMLInputElement || target instanceof HTMLSelectElement || target instanceof HTMLTextAreaElement) return;
  const entry = selected !== null ? rendered.get(selected) : null;
  const verdicts = { c: "confirm", r: "reject", e: "escalate" };
  if (event.key === "j") { move(1); event.preventDefault(); }
  else if (event.key === "k") { move(-1); event.preventDefault(); }
  else if (event.key === "Enter" && entry) { window.location.assign(`/cases/${selected}`); event.preventDefault(); }
  else if (verdicts[event.key] && entry) {
    const button = entry.node.querySelector(`button[data-verdict='${verdicts[event.key]}']`);
    if (button && !button.disabled) { event.preventDefault(); button.click(); }
  }
});

function age(iso) {
  return duration(Math.max(0, (Date.now() - new Date(iso).getTime()) / 1000));
}

async function refreshQuarantine() {
  const page = await api.get("quarantine?limit=20");
  quarantineSummary.textContent = t("queue.quarantine_summary", { n: page.total });
  quarantineList.replaceChildren(...page.items.map((q) => el("li", { dataset: { eventId: q.event_id } },
    el("span", { className: "q-edge", textContent: `${q.edge_id} / ${q.camera_id}` }),
    el("span", { className: "q-event", textContent: ` ${q.event_id} ${q.phase} ` }),
    el("span", { className: "q-age", textContent: `(${age(q.received_at)}) ` }),
    el("span", { className: "q-reason", textContent: q.reason }))));
}

let busy = false;
let again = false;
async function refresh() {
  if (busy) { again = true; return; }
  busy = true;
  try {
    const params = filterParams();
    csvLink.href = `${csvLink.pathname}?${params}`;
    params.set("limit", String(PAGE_SIZE));
    params.set("offset", String(offset));
    const page = await api.get(`cases?${params}`);
    const keep = new Set();
    let previous = null;
    for (const item of page.items) {
      keep.add(item.id);
      const key = keyOf(item);
      let entry = rendered.get(item.id);
      if (!entry || entry.key !== key) {
        const node = card(item);
        if (entry) entry.node.replaceWith(node);
        entry = { key, node, item };
        rendered.set(item.id, entry);
        if (item.id === selected) node.classList.add("selected");
      }
      const expected = previous ? previous.nextSibling : list.firstChild;
      if (entry.node !== expected) {
        if (previous) previous.after(entry.node); else list.prepend(entry.node);
      }
      previous = entry.node;
    }
    for (const [id, entry] of rendered) {
      if (!keep.has(id)) { entry.node.remove(); rendered.delete(id); }
    }
    empty.hidden = page.items.length > 0;
    summary.textContent = t("queue.summary", { n: page.total, at: shanghai(new Date()) });
    const last = Math.min(page.total, offset + page.items.length);
    pageInfo.textContent = page.total ? `${offset + 1}–${last} / ${page.total}` : "0 / 0";
    prevButton.disabled = offset === 0;
    nextButton.disabled = last >= page.total;
    if (!page.items.length && offset > 0) { offset = Math.max(0, offset - PAGE_SIZE); again = true; }
    await refreshQuarantine();
    const message = document.getElementById("message");
    if (message.dataset.refresh) { say("", false); delete message.dataset.refresh; }
  } catch (err) {
    say(t("queue.refresh_failed", { detail: err.message }), true);
    document.getElementById("message").dataset.refresh = "1";
  } finally {
    busy = false;
    if (again) { again = false; refresh(); }
  }
}

function reload() {
  for (const entry of rendered.values()) entry.node.remove();
  rendered.clear();
  refresh();
}

async function start() {
  await loadCatalog();
  for (const input of Object.values(filters)) input.addEventListener("change", () => { offset = 0; reload(); });
  prevButton.addEventListener("click", () => { offset = Math.max(0, offset - PAGE_SIZE); reload(); });
  nextButton.addEventListener("click", () => { offset += PAGE_SIZE; reload(); });
  try {
    unitsById = new Map((await fillUnitSelect(filters.unit)).map((u) => [u.id, u]));
  } catch (err) {
    say(t("queue.units_failed", { detail: err.message }), true);
  }
  refresh();
  setInterval(refresh, REFRESH_MS);
}
start();
