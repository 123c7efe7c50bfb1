// One case (/cases/{id}): evidence gallery with a large view (click; ←/→, +/-, Esc),
// clips, the shop (cross-door) or the plate (truck), the lifecycle actions the login's role
// may take in the case's status, disposals with their photos, the timeline of transitions
// and the case file chain. Data from GET /api/v1/cases/{id}; textContent only.
"use strict";
import { api, ApiError } from "./api.js";
import { chainBadge, overdueBadge, statusBadge } from "./badges.js";
import { duration, el, label, loadCatalog, say, t, when } from "./i18n.js";
import { loadUnits, unitName } from "./units.js";

const CASE_ID = Number(document.body.dataset.caseId);
const ROLE = document.body.dataset.role;
const IMAGE_ORDER = ["annotated", "frame", "crop", "plate", "load"];
const can = {
  review: ["reviewer", "admin"],
  dispatch: ["dispatcher", "admin"],
  dispose: ["team", "admin"],
  verify: ["dispatcher", "admin"],
  close: ["dispatcher", "admin"],
  reopen: ["dispatcher", "admin"],
  escalate: ["reviewer", "dispatcher", "admin"],
  notice: ["reviewer", "dispatcher", "team", "admin"],
};
const allowed = (action) => can[action].includes(ROLE);

let gallery = []; // [{url, caption}]
let viewing = 0;

function evidenceUrl(sha256) { return `${document.body.dataset.api}/evidence/${sha256}`; }

function row(dl, key, value) {
  if (value === null || value === undefined || value === "") return;
  dl.append(el("dt", { textContent: t(key) }), el("dd", {}, value));
}

function latestDetails(item) {
  for (const event of [...(item.events || [])].reverse()) {
    if (event.payload && event.payload.details) return event.payload.details;
  }
  return {};
}

function renderFacts(item, units) {
  // the login's tree, and the units the case names (those outside the tree too)
  const byId = new Map([...(item.units || []), ...units].map((u) => [u.id, u]));
  const nameOf = (id) => (id && byId.has(id) ? unitName(byId.get(id)) : id);
  document.getElementById("case-title").textContent =
    `${t("case.title", { id: item.id })} · ${label("common.violation", item.violation_type)}`;
  document.getElementById("badges").replaceChildren(statusBadge(item.status), chainBadge(item.chain_status),
    ...[overdueBadge(item)].filter(Boolean));
  const dl = document.getElementById("facts");
  dl.replaceChildren();
  const unitRow = (key, id) => row(dl, key, el("span", { dataset: { unitId: id }, textContent: nameOf(id) }));
  if (item.unit_id) unitRow("common.field.unit", item.unit_id);
  else row(dl, "common.field.unit", t("common.no_unit"));
  if (item.assigned_unit_id) unitRow("case.assigned_unit", item.assigned_unit_id);
  if (item.team_unit_id) unitRow("case.team", item.team_unit_id);
  row(dl, "common.field.deadline", item.deadline_at ? when(item.deadline_at) : null);
  row(dl, "common.field.camera", `${item.edge_id} / ${item.camera_id}`);
  row(dl, "common.field.zone", item.zone_id);
  row(dl, "common.field.label", `${item.label} (${Math.round(item.confidence * 100)}%)`);
  row(dl, "common.field.first_seen", when(item.first_seen));
  row(dl, "common.field.last_seen", when(item.last_seen));
  row(dl, "common.field.dwell", duration(item.dwell_s));
  row(dl, "case.model", `${item.model.name} v${item.model.version}`);
  row(dl, "common.field.reason", item.review_reason);
  row(dl, "case.closed_at", item.closed_at ? when(item.closed_at) : null);
}

function openViewer(index) {
  if (!gallery.length) return;
  viewing = (index + gallery.length) % gallery.length;
  const image = document.getElementById("viewer-img");
  image.classList.remove("zoomed");
  image.src = gallery[viewing].url;
  image.alt = gallery[viewing].caption;
  document.getElementById("viewer-caption").textContent = `${gallery[viewing].caption} (${viewing + 1}/${gallery.length})`;
  const dialog = document.getElementById("viewer");
  if (!dialog.open) dialog.showModal();
}

function renderEvidence(item) {
  const box = document.getElementById("gallery");
  const clips = document.getElementById("clips");
  const images = item.evidence.filter((e) => e.content_type.startsWith("image/") && e.available)
    .sort((a, b) => IMAGE_ORDER.indexOf(a.kind) - IMAGE_ORDER.indexOf(b.kind));
  gallery = images.map((e) => ({ url: e.url, caption: `${label("common.kind", e.kind)} · sha256 ${e.sha256.slice(0, 12)}` }));
  box.replaceChildren(...images.map((e, index) => {
    const img = el("img", { src: e.url, alt: gallery[index].caption, dataset: { kind: e.kind } });
    const button = el("button", { type: "button", className: "thumb", title: t("case.zoom") }, img);
    button.addEventListener("click", () => openViewer(index));
    return el("figure", {}, button, el("figcaption", { textContent: label("common.kind", e.kind) }));
  }));
  const pending = item.evidence.filter((e) => !e.available).length;
  if (pending) box.append(el("p", { className: "pending-note", textContent: t("case.pending", { n: pending }) }));
  clips.replaceChildren(...item.evidence.filter((e) => e.content_type.startsWith("video/") && e.available)
    .map((e) => el("figure", {}, el("video", { controls: true, preload: "metadata", src: e.url, dataset: { kind: e.kind } }),
      el("figcaption", { textContent: `${label("common.kind", e.kind)} · sha256 ${e.sha256.slice(0, 12)}` }))));
}

function renderShopAndPlate(item) {
  const details = latestDetails(item);
  const shop = document.getElementById("shop");
  shop.hidden = item.violation_type !== "cross_door";
  if (!shop.hidden) {
    const dl = document.getElementById("shop-facts");
    dl.replaceChildren();
    row(dl, "case.shop_name", details.shop_name ?? t("case.unknown"));
    row(dl, "case.shop_id", details.shop_id);
    loadNotices();
  }
  const plate = document.getElementById("plate");
  plate.hidden = item.violation_type !== "muck_truck";
  if (!plate.hidden) {
    const dl = document.getElementById("plate-facts");
    dl.replaceChildren();
    row(dl, "case.plate_text", details.plate ?? t("case.unread"));
    row(dl, "case.plate_colour", details.plate_colour ? label("case.colour", details.plate_colour) : null);
    row(dl, "case.plate_confidence", typeof details.plate_confidence === "number" ? `${Math.round(details.plate_confidence * 100)}%` : null);
    row(dl, "case.plate_status", details.plate_status);
    row(dl, "case.load", details.load ? label("case.load_state", details.load) : null);
    const crop = item.evidence.find((e) => e.kind === "plate" && e.available);
    document.getElementById("plate-crop").replaceChildren(...(crop ? [el("img", { src: crop.url, alt: t("case.plate"), dataset: { kind: "plate" } })] : []));
  }
}

async function loadNotices() {
  const list = document.getElementById("notices");
  try {
    const body = await api.get(`cases/${CASE_ID}/notices`);
    const items = Array.isArray(body) ? body : body.items || [];
    list.replaceChildren(...items.map((n) => el("li", {}, when(n.sent_at), " ",
      el("span", { className: "channel", textContent: label("case.channel", n.channel) }), " ",
      el("span", { className: "notice-text", textContent: n.text }))));
    if (!items.length) list.replaceChildren(el("li", { className: "muted", textContent: t("case.no_notices") }));
  } catch (err) {
    list.replaceChildren(el("li", { className: "muted", textContent: t("case.notices_unavailable", { detail: err.message }) }));
  }
}

function renderDisposals(item) {
  const box = document.getElementById("disposals");
  const disposals = item.disposals || [];
  box.replaceChildren(...disposals.map((d) => el("article", { className: "disposal", dataset: { disposalId: String(d.id) } },
    el("p", {}, when(d.at), " · ", el("span", { className: "by", textContent: d.by || "" })),
    el("p", { className: "note", textContent: d.note || "" }),
    el("div", { className: "thumbs" }, ...(d.photos || []).map((p) => {
      const url = p.url || evidenceUrl(p.sha256);
      return el("a", { href: url, target: "_blank", rel: "noopener", title: `sha256 ${p.sha256}` },
        el("img", { src: url, alt: t("case.disposal_photo"), dataset: { sha256: p.sha256 } }));
    })))));
  if (!disposals.length) box.append(el("p", { className: "muted", textContent: t("case.no_disposals") }));
}

function renderTimeline(item) {
  const list = document.getElementById("timeline");
  const moves = (item.transitions || []).map((tr) => ({ at: tr.at, action: tr.action, from: tr.from_status,
    to: tr.to_status, actor: tr.actor, note: tr.note, detail: tr.detail }));
  // verdicts also write a transition; only those from before the lifecycle existed are extra
  const first = moves.length ? new Date(moves[0].at).getTime() : Infinity;
  const older = (item.reviews || []).filter((r) => new Date(r.created_at).getTime() < first - 1000)
    .map((r) => ({ at: r.created_at, action: r.verdict, from: r.status_before, to: r.status_after,
      actor: r.reviewer, note: r.reason, detail: null }));
  const rows = [...older, ...moves];
  list.replaceChildren(...rows.map((r) => el("li", { dataset: { action: r.action, to: r.to } },
    when(r.at), " ",
    el("strong", { textContent: label("case.action", r.action) }), " ",
    el("span", { className: "move", textContent: `${label("common.status", r.from)} → ${label("common.status", r.to)}` }), " ",
    el("span", { className: "by", textContent: r.actor || "" }),
    r.detail && r.detail.deadline_at ? el("span", { className: "deadline" }, ` · ${t("common.field.deadline")} `, when(r.detail.deadline_at)) : null,
    r.note ? el("q", { textContent: r.note }) : null)));
  if (!rows.length) list.append(el("li", { className: "muted", textContent: t("case.no_transitions") }));
}

async function renderFileChain() {
  const out = document.getElementById("file-chain");
  try {
    const chain = await api.get(`cases/${CASE_ID}/file-chain`);
    const ok = chain.ok;
    const n = (chain.records || []).length;
    out.replaceChildren(el("span", { className: `chain ${ok ? "verified" : "flagged"}`, dataset: { fileChain: ok ? "ok" : "broken" },
      textContent: ok ? t("case.file_chain_ok", { n }) : t("case.file_chain_broken", { n }),
      title: (chain.problems || []).join("; ") || chain.head || "" }));
  } catch (err) {
    out.textContent = t("case.file_chain_unavailable", { detail: err.message });
  }
}

// ---- actions -------------------------------------------------------------------------

const form = document.getElementById("action-form");

function field(labelKey, input) { return el("label", {}, t(labelKey), " ", input); }

function showForm(title, inputs, submitKey, onSubmit) {
  const submit = el("button", { type: "submit", textContent: t(submitKey), dataset: { submit: submitKey } });
  const cancel = el("button", { type: "button", textContent: t("case.cancel") });
  cancel.addEventListener("click", () => { form.hidden = true; form.replaceChildren(); });
  form.replaceChildren(el("h3", { textContent: title }), ...inputs.map((i) => el("p", {}, i)), el("p", {}, submit, " ", cancel));
  form.hidden = false;
  form.onsubmit = async (event) => {
    event.preventDefault();
    submit.disabled = true;
    try {
      await onSubmit();
      form.hidden = true;
      form.replaceChildren();
      say(t("case.done"), false);
      await load();
    } catch (err) {
      say(err instanceof ApiError ? err.message : t("common.network_error", { detail: String(err) }), true);
    } finally {
      submit.disabled = false;
    }
  };
  const first = form.querySelector("input, select, textarea");
  if (first) first.focus();
}

function textarea(name, required) {
  return el("textarea", { name, rows: 3, maxLength: 2000, required: !!required });
}

async function dispatchForm(item) {
  let units;
  try {
    units = await loadUnits();
  } catch (err) {
    say(t("queue.units_failed", { detail: err.message }), true);
    return;
  }
  // teams under the unit that handles the case, those of the camera's street first
  const home = item.assigned_unit_id || item.unit_id;
  const byId = new Map(units.map((u) => [u.id, u]));
  const under = (unit, root) => { for (let u = unit; u; u = byId.get(u.parent_id)) if (u.id === root) return true; return false; };
  const teams = units.filter((u) => u.level === "team" && (!home || under(u, home)))
    .sort((a, b) => Number(b.parent_id === item.unit_id) - Number(a.parent_id === item.unit_id));
  if (!teams.length) { say(t("case.no_teams"), true); return; }
  const team = el("select", { name: "team_unit_id", required: true },
    ...teams.map((u) => el("option", { value: u.id, textContent: unitName(u) })));
  const deadline = el("input", { type: "datetime-local", name: "deadline_at" });
  const note = textarea("note");
  showForm(t("case.do.dispatch"), [field("case.team", team), field("case.deadline_optional", deadline), field("case.note", note)],
    "case.do.dispatch", () => api.post(`cases/${item.id}/dispatch`, {
      team_unit_id: team.value,
      deadline_at: deadline.value ? `${deadline.value}:00+08:00` : null,
      note: note.value.trim() || null,
    }));
}

function disposeForm(item) {
  const photos = el("input", { type: "file", name: "photos", multiple: true, accept: "image/jpeg,image/png", required: true });
  const note = textarea("note", true);
  showForm(t("case.do.dispose"), [field("case.photos", photos), field("case.note", note)], "case.do.dispose", () => {
    const data = new FormData();
    for (const file of photos.files) data.append("photos", file);
    data.append("note", note.value.trim());
    return api.form(`cases/${item.id}/disposals`, data);
  });
}

function noteForm(item, action, path, build, required) {
  const note = textarea("note", required);
  showForm(t(`case.do.${action}`), [field("case.note", note)], `case.do.${action}`,
    () => api.post(`cases/${item.id}/${path}`, build(note.value.trim() || null)));
  return note;
}

function reopenForm(item) {
  const to = el("select", { name: "to" }, ...["candidate", "dispatched"]
    .map((status) => el("option", { value: status, textContent: label("common.status", status) })));
  const reason = textarea("reason", true);
  showForm(t("case.do.reopen"), [field("case.reopen_to", to), field("case.note", reason)], "case.do.reopen",
    () => api.post(`cases/${item.id}/reopen`, { reason: reason.value.trim(), to: to.value }));
}

function noticeForm(item) {
  const channel = el("select", { name: "channel" }, ...["sms", "phone", "paper", "in_person"]
    .map((c) => el("option", { value: c, textContent: label("case.channel", c) })));
  const text = textarea("text", true);
  showForm(t("case.do.notice"), [field("case.channel_label", channel), field("case.notice_text", text)], "case.do.notice",
    () => api.post(`cases/${item.id}/notices`, { channel: channel.value, text: text.value.trim(), sent_at: new Date().toISOString() }));
}

async function reviewAction(item, verdict) {
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
    await api.post(`cases/${item.id}/review`, { verdict, reason, override_chain: override });
    say(t("case.done"), false);
  } catch (err) {
    say(err instanceof ApiError ? err.message : t("common.network_error", { detail: String(err) }), true);
  }
  await load();
}

function actionsFor(item) {
  const s = item.status;
  const out = [];
  const add = (action, role, handler) => { if (allowed(role)) out.push([action, handler]); };
  if (s === "candidate" || s === "escalated") {
    add("confirm", "review", () => reviewAction(item, "confirm"));
    add("reject", "review", () => reviewAction(item, "reject"));
    if (s === "candidate") add("escalate", "review", () => reviewAction(item, "escalate"));
  }
  if (s === "confirmed") add("dispatch", "dispatch", () => dispatchForm(item));
  if (s === "dispatched") add("dispose", "dispose", () => disposeForm(item));
  if (s === "disposed") {
    add("verify", "verify", () => noteForm(item, "verify", "verify", (note) => ({ accepted: true, note })));
    add("send_back", "verify", () => noteForm(item, "send_back", "verify", (note) => ({ accepted: false, note }), true));
  }
  if (s === "verified") add("close", "close", () => noteForm(item, "close", "close", (note) => ({ note })));
  if (s === "closed" || s === "rejected") {
    add("reopen", "reopen", () => reopenForm(item));
  }
  if (s === "escalated" || s === "confirmed") {
    add("escalate_unit", "escalate", () => noteForm(item, "escalate_unit", "escalate", (note) => ({ note }), true));
  }
  if (item.violation_type === "cross_door") add("notice", "notice", () => noticeForm(item));
  return out;
}

function renderActions(item) {
  const box = document.getElementById("actions");
  const actions = actionsFor(item);
  box.replaceChildren(...actions.map(([action, handler]) => {
    const button = el("button", { type: "button", textContent: t(`case.do.${action}`), dataset: { action } });
    button.addEventListener("click", handler);
    return button;
  }));
  if (!actions.length) box.append(el("p", { className: "muted", textContent: t("case.no_actions") }));
}

async function load() {
  let item;
  try {
    item = await api.get(`cases/${CASE_ID}`);
  } catch (err) {
    say(err instanceof ApiError && err.status === 404 ? t("case.not_found", { id: CASE_ID }) : err.message, true);
    document.getElementById("case").dataset.missing = "true";
    return;
  }

  const units = await loadUnits().catch(() => []);
  renderFacts(item, units);
  renderEvidence(item);
  renderShopAndPlate(item);
  renderActions(item);
  renderDisposals(item);
  renderTimeline(item);
  renderFileChain();
  document.getElementById("case").dataset.status = item.status;
}

function wireViewer() {
  const dialog = document.getElementById("viewer");
  const image = document.getElementById("viewer-img");
  document.getElementById("viewer-close").addEventListener("click", () => dialog.close());
  image.addEventListener("click", () => image.classList.toggle("zoomed"));
  dialog.addEventListener("keydown", (event) => {
    if (event.key === "ArrowRight") { openViewer(viewing + 1); event.preventDefault(); }
    else if (event.key === "ArrowLeft") { openViewer(viewing - 1); event.preventDefault(); }
    else if (event.key === "+" || event.key === "=") image.classList.add("zoomed");
    else if (event.key === "-") image.classList.remove("zoomed");
  });
}

async function start() {
  await loadCatalog();
  wireViewer();
  await load();
  document.getElementById("case").dataset.ready = "true";
}
start();
