// The message catalogue in the browser (GET /i18n/<locale>.json, the same files the
// templates use), DOM building with textContent only, and times shown in Asia/Shanghai
// with UTC in the title (hover).
"use strict";

const LOCALE = document.body.dataset.locale || "zh-CN";
let messages = {};

export async function loadCatalog() {
  const response = await fetch(document.body.dataset.i18n);
  if (!response.ok) throw new Error(`catalogue: HTTP ${response.status}`);
  messages = await response.json();
}

// t("queue.total", {n: 3}): the text of a key with {placeholders} filled; the key itself
// when it is missing (a test keeps every used key in both locales).
export function t(key, values) {
  const text = messages[key] ?? key;
  if (!values) return text;
  return text.replace(/\{([a-z_][a-z0-9_]*)\}/g, (m, name) => (name in values ? String(values[name]) : m));
}

// t() of "prefix.value" when the catalogue has it, else the value itself.
export function label(prefix, value) {
  const key = `${prefix}.${value}`;
  return key in messages ? messages[key] : String(value);
}

export function el(tag, props, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(props || {})) {
    if (name === "dataset") Object.assign(node.dataset, value);
    else if (name === "className" || name === "textContent" || name in node) node[name] = value;
    else node.setAttribute(name, value);
  }
  for (const child of children) if (child !== null && child !== undefined) node.append(child);
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

export function shanghai(date) { return parts(date, "Asia/Shanghai"); }

// <time> showing Asia/Shanghai, UTC on hover.
export function when(iso) {
  if (!iso) return el("span", { textContent: "—" });
  const date = new Date(iso);
  return el("time", { dateTime: date.toISOString(), className: "when",
    textContent: shanghai(date), title: `${parts(date, "UTC")} UTC` });
}

export function duration(seconds) {
  const s = Math.round(seconds);
  if (s >= 86400) return t("common.duration.dh", { d: Math.floor(s / 86400), h: Math.floor((s % 86400) / 3600) });
  if (s >= 3600) return t("common.duration.hm", { h: Math.floor(s / 3600), m: Math.floor((s % 3600) / 60) });
  if (s >= 60) return t("common.duration.ms", { m: Math.floor(s / 60), s: s % 60 });
  return t("common.duration.s", { s });
}

// A Shanghai calendar day (yyyy-mm-dd from <input type=date>) as an ISO instant.
export function dayStart(value) { return value ? `${value}T00:00:00+08:00` : null; }

export function say(text, isError) {
  const message = document.getElementById("message");
  message.textContent = text;
  message.className = isError ? "error" : "";
}

export { LOCALE };
