// Every page's header: the logout button (a POST with the CSRF header).
"use strict";
import { api } from "./api.js";

const logout = document.getElementById("logout");
if (logout) {
  logout.addEventListener("click", async () => {
    logout.disabled = true;
    try { await api.post("auth/logout"); } finally { window.location.assign("/login"); }
  });
}
