// The one way the pages talk to the server: fetch with the CSRF header on every state
// change (double submit: the civicwatch_csrf cookie copied into X-CSRF-Token; see
// server/csrf.py), JSON in and out, and the server's error detail as the message.
// Other pages import it: import { api, apiForm, ApiError } from "/static/js/api.js".
"use strict";

export const API = document.body.dataset.api || "/api/v1";
const SAFE = new Set(["GET", "HEAD", "OPTIONS"]);

export class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
  }
}

export function csrfToken() {
  for (const part of document.cookie.split(";")) {
    const [name, ...rest] = part.trim().split("=");
    if (name === "civicwatch_csrf") return decodeURIComponent(rest.join("="));
  }
  return "";
}

function detailOf(body, response) {
  if (typeof body.detail === "string") return body.detail;
  if (Array.isArray(body.detail)) return body.detail.map((d) => d.msg).join("; ");
  return `HTTP ${response.status} ${response.statusText}`;
}

// fetch(path) relative to the API prefix unless it starts with "/"; returns parsed JSON
// (or null for 204), throws ApiError with the server's detail.
export async function request(path, { method = "GET", json, form, headers = {} } = {}) {
  const url = path.startsWith("/") ? path : `${API}/${path}`;
  const init = { method, headers: { ...headers }, cache: "no-store", credentials: "same-origin" };
  if (!SAFE.has(method)) {
    const token = csrfToken();
    if (token) init.headers["X-CSRF-Token"] = token;
  }
  if (json !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(json);
  } else if (form !== undefined) {
    init.body = form; // FormData: the browser sets the multipart boundary
  }
  const response = await fetch(url, init);
  if (response.status === 204) return null;
  const type = response.headers.get("content-type") || "";
  const body = type.includes("json") ? await response.json().catch(() => ({})) : {};
  if (!response.ok) throw new ApiError(response.status, detailOf(body, response));
  return body;
}

export const api = {
  get: (path) => request(path),
  post: (path, json) => request(path, { method: "POST", json }),
  patch: (path, json) => request(path, { method: "PATCH", json }),
  del: (path) => request(path, { method: "DELETE" }),
  form: (path, form) => request(path, { method: "POST", form }),
};
