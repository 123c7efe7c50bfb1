// The review page: lists cases through the JSON API a page at a time (with each case's
// evidence-chain badge), shows the quarantine, refreshes every few seconds, and posts
// verdicts (confirming a case whose chain is not verified asks for an override reason).
// DOM is built with textContent only (no HTML from data).
"use strict";

const API = document.body.dataset.api;
const REFRESH_MS = Number(document.body.dataset.refreshS || 5) * 1000;

const VIOLATIONS = {
  street_stall: "占道设摊",
  cross_door: "跨门经营",
  muck_truck: "渣土车未密闭",
  construction: "文明施工",
};
const STATUSES = {
  candidate: "待审", confirmed: "已确认", rejected: "已驳回", escalated: "已上报",
};
const KINDS = { annotated: "标注 annotated", crop: "目标 crop", frame: "原图 frame",
  plate: "车牌 plate", load: "车斗 load" };
const THUMB_KINDS = ["annotated", "crop", "frame", "plate", "load"];
const CHAIN = { verified: "链已验证", pending: "链待验证", flagged: "链异常", unchained: "无链记录" };
const PAGE_SIZE = 50;

const list = document.getElementById("cases");
const empty = document.getElementById("empty");
const summary = document.getElementById("summary");
const message = document.getElementById("message");
const filter = document.getElementById("status-filter");
const prevButton = document.getElementById("prev-page");
const nextButton = document.getElementById("next-page");
const pageInfo = document.getElementById("page-info");
const quarantineList = document.getElementById("quarantine-list");
const quarantineSummary = document.getElementById("quarantine-summary");
const rendered = new Map(); // case id -> {key, node}
let offset = 0;

function el(tag, props, ...children) {
  const node = document.createElement(tag);
  Object.assign(node, props || {});
  for (const child of children) node.append(child);
  return node;
}

function parts(date, timeZone) {
  const out = {};
  const fmt = new Intl.DateTimeFormat("en-GB", { timeZone, hourCycle: "h23",
    year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", second: "2-digit" });
  for (const p of fmt.formatToParts(date)) out[p.type] = p.value;
  return `${out.year}-${out.month}-${out.day} ${out.hour}:${out.minute}:${out.second}`;
}

function when(iso) {
  const date = new Date(iso);
  return `${parts(date, "UTC")} UTC · ${parts(date, "Asia/Shanghai")} 北京`;
}

function dwell(seconds) {
  const s = Math.round(seconds);
  const m = Math.floor(s / 60);
  return m > 0 ? `${m} min ${s % 60} s` : `${s} s`;
}

function say(text, isError) {
  message.textContent = text;
  message.className = isError ? "error" : "";
}

function thumbs(item) {
  const box = el("div", { className: "thumbs" });
  const shown = item.evidence
    .filter((e) => e.content_type.startsWith("image/"))
    .sort((a, b) => THUMB_KINDS.indexOf(a.kind) - THUMB_KINDS.indexOf(b.kind));
  for (const ev of shown) {
    const caption = el("figcaption", { textContent: KINDS[ev.kind] || ev.kind });
    if (ev.available) {
      const img = el("img", { src: ev.url, alt: `${ev.kind} ${ev.sha256.slice(0, 12)}`,
        loading: "lazy" });
      img.dataset.kind = ev.kind;
      const link = el("a", { href: ev.url, target: "_blank", rel: "noopener",
        title: `sha256 ${ev.sha256}` }, img);
      box.append(el("figure", {}, link, caption));
    } else {
      box.append(el("figure", {}, el("div", { className: "pending",
        textContent: "等待证据 evidence pending" }), caption));
    }
  }
  return box;
}

async function review(item, verdict, buttons) {
  let reason = null;
  let override = false;
  if (verdict === "confirm" && item.chain_status !== "verified") {
    reason = window.prompt(`案件 ${item.id} 证据链${CHAIN[item.chain_status] || ""} `
      + `(chain ${item.chain_status}). 仍要确认? 请填写理由 Reason to confirm anyway `
      + "(recorded as an override):", "");
    if (reason === null) return;
    if (!reason.trim()) { say("越过链校验需要理由 An override needs a reason.", true); return; }
    override = true;
  }
  if (verdict === "reject") {
    reason = window.prompt(`驳回理由 Reason for rejecting case ${item.id}:`, "");
    if (reason === null) return;
    if (!reason.trim()) { say("驳回需要理由 A reason is required to reject.", true); return; }
  }
  buttons.forEach((b) => { b.disabled = true; });
  try {
    const response = await fetch(`${API}/cases/${item.id}/review`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ verdict, reason, override_chain: override }),
    });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) {
      const detail = typeof body.detail === "string" ? body.detail
        : Array.isArray(body.detail) ? body.detail.map((d) => d.msg).join("; ") : response.statusText;
      say(`案件 ${item.id}: ${detail}`, true);
    } else {
      say(`案件 ${item.id} → ${STATUSES[body.status] || ""} ${body.status}`, false);
    }
  } catch (err) {
    say(`网络错误 Network error: ${err}`, true);
  }
  await refresh();
}

function card(item) {
  const node = el("article", { className: "case" });
  node.dataset.caseId = String(item.id);
  const vt = item.violation_type;
  const status = el("span", { className: `status ${item.status}`,
    textContent: `${STATUSES[item.status] || ""} ${item.status}` });
  status.dataset.status = item.status;
  node.append(el("h2", {},
    el("span", { textContent: `#${item.id} ${VIOLATIONS[vt] || ""}` }),
    el("span", { className: "en", textContent: vt }),
    status,
    chainBadge(item.chain_status),
    el("span", { className: "phase", textContent: item.open ? "进行中 open" : "已结束 ended" })));
  const rows = [
    ["摄像头 Camera", item.camera_id],
    ["区域 Zone", item.zone_id],
    ["目标 Label", `${item.label} (${Math.round(item.confidence * 100)}%)`],
    ["首次 First seen", when(item.first_seen)],
    ["最近 Last seen", when(item.last_seen)],
    ["停留 Dwell", dwell(item.dwell_s)],
  ];
  if (item.review_reason) rows.push(["理由 Reason", item.review_reason]);
  const dl = el("dl");
  for (const [k, v] of rows) dl.append(el("dt", { textContent: k }), el("dd", { textContent: v }));
  node.append(dl, thumbs(item));
  const buttons = [
    ["confirm", "确认 Confirm"], ["reject", "驳回 Reject"], ["escalate", "上报 Escalate"],
  ].map(([verdict, text]) => {
    const b = el("button", { type: "button", textContent: text });
    b.dataset.verdict = verdict;
    return b;
  });
  const final = item.status === "confirmed" || item.status === "rejected";
  for (const b of buttons) {
    b.disabled = final || (item.status === "escalated" && b.dataset.verdict === "escalate");
    b.addEventListener("click", () => review(item, b.dataset.verdict, buttons));
  }
  node.append(el("div", { className: "actions" }, ...buttons));
  return node;
}

function chainBadge(chainStatus) {
  const badge = el("span", { className: `chain ${chainStatus}`,
    textContent: `${CHAIN[chainStatus] || ""} chain ${chainStatus}`,
    title: "签名哈希链状态 signed evidence chain status" });
  badge.dataset.chain = chainStatus;
  return badge;
}

function keyOf(item) {
  return `${item.updated_at}|${item.chain_status}|`
    + item.evidence.map((e) => e.sha256 + e.available).join(",");
}

function age(iso) {
  const s = Math.max(0, Math.round((Date.now() - new Date(iso).getTime()) / 1000));
  return s >= 3600 ? `${Math.floor(s / 3600)} h` : s >= 60 ? `${Math.floor(s / 60)} min` : `${s} s`;
}

async function refreshQuarantine() {
  const response = await fetch(`${API}/quarantine?limit=20`, { cache: "no-store" });
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  const page = await response.json();
  quarantineSummary.textContent = `隔离区 Quarantine: ${page.total} 条等待链记录 waiting for a verified chain record`;
  quarantineList.replaceChildren(...page.items.map((q) => {
    const row = el("li", {},
      el("span", { className: "q-edge", textContent: `${q.edge_id} / ${q.camera_id}` }),
      el("span", { className: "q-event", textContent: ` ${q.event_id} ${q.phase} ` }),
      el("span", { className: "q-age", textContent: `(${age(q.received_at)}) ` }),
      el("span", { className: "q-reason", textContent: q.reason }));
    row.dataset.eventId = q.event_id;
    return row;
  }));
}

let busy = false;
let again = false;
async function refresh() {
  if (busy) { again = true; return; }
  busy = true;
  try {
    const params = new URLSearchParams({ limit: String(PAGE_SIZE), offset: String(offset) });
    if (filter.value) params.set("status", filter.value);
    const response = await fetch(`${API}/cases?${params}`, { cache: "no-store" });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const page = await response.json();
    const keep = new Set();
    let previous = null;
    for (const item of page.items) {
      keep.add(item.id);
      const key = keyOf(item);
      let entry = rendered.get(item.id);
      if (!entry || entry.key !== key) {
        const node = card(item);
        if (entry) entry.node.replaceWith(node);
        entry = { key, node };
        rendered.set(item.id, entry);
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
    summary.textContent = `${page.total} 件 cases · 更新 ${parts(new Date(), "Asia/Shanghai")} 北京`;
    const last = Math.min(page.total, offset + page.items.length);
    pageInfo.textContent = page.total ? `${offset + 1}–${last} / ${page.total}` : "0 / 0";
    prevButton.disabled = offset === 0;
    nextButton.disabled = last >= page.total;
    if (!page.items.length && offset > 0) { offset = Math.max(0, offset - PAGE_SIZE); again = true; }
    await refreshQuarantine();
    if (message.className === "error" && message.textContent.startsWith("刷新")) say("", false);
  } catch (err) {
    say(`刷新失败 Refresh failed: ${err.message}`, true);
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
filter.addEventListener("change", () => { offset = 0; reload(); });
prevButton.addEventListener("click", () => { offset = Math.max(0, offset - PAGE_SIZE); reload(); });
nextButton.addEventListener("click", () => { offset += PAGE_SIZE; reload(); });
refresh();
setInterval(refresh, REFRESH_MS);
