// Webhooks (/webhooks, admins): the receivers, the delivery log and the dead letters
// (GET /api/v1/webhooks, /webhooks/deliveries?status=), with a retry button per delivery
// (POST /api/v1/webhooks/deliveries/{id}/retry). textContent only.
"use strict";
import { api, ApiError } from "./api.js";
import { el, label, loadCatalog, say, t, when } from "./i18n.js";

const statusFilter = document.getElementById("delivery-status");

async function retry(delivery, button) {
  button.disabled = true;
  try {
    await api.post(`webhooks/deliveries/${delivery.id}/retry`);
    say(t("webhooks.retried", { id: delivery.id }), false);
  } catch (err) {
    say(err instanceof ApiError ? err.message : t("common.network_error", { detail: String(err) }), true);
  }
  await refresh();
}

function row(d) {
  const last = d.last_status_code ? `HTTP ${d.last_status_code}` : d.last_error || "";
  const button = el("button", { type: "button", textContent: t("webhooks.retry"), dataset: { retry: String(d.id) } });
  button.disabled = d.status === "delivered";
  button.addEventListener("click", () => retry(d, button));
  return el("tr", { dataset: { deliveryId: String(d.id), status: d.status } },
    el("td", { textContent: String(d.id) }),
    el("td", { textContent: d.subscription_name }),
    el("td", { textContent: d.kind }),
    el("td", {}, d.case_id ? el("a", { href: `/cases/${d.case_id}`, textContent: `#${d.case_id}` }) : "—"),
    el("td", {}, when(d.occurred_at)),
    el("td", { className: `delivery ${d.status}`, textContent: label("webhooks.status", d.status) }),
    el("td", { textContent: String(d.attempts) }),
    el("td", { className: "last-error", textContent: last, title: d.last_error || "" }),
    el("td", {}, button));
}

async function refresh() {
  try {
    const subs = await api.get("webhooks");
    document.querySelector("#subscriptions tbody").replaceChildren(...subs.items.map((s) => el("tr", {},
      el("td", { textContent: s.name }), el("td", { textContent: s.url }),
      el("td", { textContent: s.kinds.join(", ") }),
      el("td", { textContent: s.enabled ? "✓" : "✗" }))));
    const params = new URLSearchParams({ limit: "100" });
    if (statusFilter.value) params.set("status", statusFilter.value);
    const page = await api.get(`webhooks/deliveries?${params}`);
    document.querySelector("#deliveries tbody").replaceChildren(...page.items.map(row));
    document.getElementById("no-deliveries").hidden = page.items.length > 0;
    document.getElementById("delivery-summary").textContent = t("webhooks.summary", { n: page.total });
    document.querySelector("main").dataset.ready = "true";
  } catch (err) {
    say(t("webhooks.failed", { detail: err.message }), true);
  }
}

async function start() {
  await loadCatalog();
  statusFilter.addEventListener("change", refresh);
  await refresh();
}
start();
