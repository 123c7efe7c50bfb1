// Status, chain and overdue badges shared by the queue and the case page.
"use strict";
import { el, label, t } from "./i18n.js";

export function chainBadge(chainStatus) {
  return el("span", { className: `chain ${chainStatus}`, textContent: label("common.chain", chainStatus),
    title: t("common.chain.title"), dataset: { chain: chainStatus } });
}

export function statusBadge(status) {
  return el("span", { className: `status ${status}`, textContent: label("common.status", status),
    dataset: { status } });
}

export function overdueBadge(item) {
  return item.overdue ? el("span", { className: "overdue", textContent: t("common.overdue") }) : null;
}
