// The dashboard's entry: the token, the hash router and the views. Renders on every change
// the watches bring (no reloads); keeps focus and scroll where the user left them.
import { takeTokenFromFragment, token, setToken, clearToken, whoAmI } from "./api.js";
import { h } from "./dom.js";
import { store, start, subscribe } from "./store.js";
import * as fleet from "./views/fleet.js";
import * as cluster from "./views/cluster.js";
import * as workspaces from "./views/workspaces.js";
import * as workspace from "./views/workspace.js";
import * as rollouts from "./views/rollouts.js";
import * as events from "./views/events.js";

const main = () => document.getElementById("main");

function route() {
  const parts = (location.hash.replace(/^#\/?/, "") || "fleet").split("/").map(decodeURIComponent);
  switch (parts[0]) {
    case "clusters": return { nav: "fleet", view: () => cluster.render(parts[1] || "") };
    case "workspaces":
      return parts.length >= 3 ? { nav: "workspaces", view: () => workspace.render(parts[1], parts[2]) }
                               : { nav: "workspaces", view: () => workspaces.render() };
    case "rollouts": return { nav: "rollouts", view: () => rollouts.render(render) };
    case "events": return { nav: "events", view: () => events.render() };
    default: return { nav: "fleet", view: () => fleet.render() };
  }
}

function tokenForm(message) {
  const input = h("input", { id: "token", type: "password", autocomplete: "off", required: true,
                              "aria-describedby": "token-help" });
  return [
    h("h2", {}, "Sign in"),
    message ? h("p", { class: "error", role: "alert" }, message) : null,
    h("form", { class: "token", onsubmit: (e) => { e.preventDefault(); setToken(input.value); location.reload(); } },
      h("label", { for: "token" }, "Bearer token"), input,
      h("p", { id: "token-help", class: "muted" },
        "A token from your kubeconfig (`berthctl dashboard` opens this page with it). It stays in this tab only."),
      h("button", { type: "submit" }, "Open the dashboard")),
  ];
}

function render() {
  const r = route();
  for (const a of document.querySelectorAll("nav a")) {
    if (a.getAttribute("href") === "#/" + r.nav) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  const unauthorized = Object.values(store.status).find((s) => !s.ok && s.message === "unauthorized");
  const focused = document.activeElement && document.activeElement.closest("main") ? document.activeElement : null;
  const focusKey = focused && (focused.getAttribute("href") || focused.dataset.action);
  const content = unauthorized ? tokenForm("The hub refused the token (401). Paste another.") : r.view();
  const m = main();
  const y = window.scrollY;
  m.replaceChildren(...[content].flat(Infinity).filter(Boolean));
  window.scrollTo(0, y);
  if (focusKey) {
    const again = [...m.querySelectorAll("a, button")].find((e) => (e.getAttribute("href") || e.dataset.action) === focusKey);
    if (again) again.focus();
  }
  const live = Object.entries(store.status);
  document.getElementById("live").textContent = live.length && live.every(([, s]) => s.ok) ? "live"
    : live.filter(([, s]) => !s.ok).map(([n, s]) => n + ": " + s.message).join("; ") || "connecting…";
}

takeTokenFromFragment();
if (!token()) {
  main().replaceChildren(...tokenForm().filter(Boolean));
} else {
  whoAmI().then((u) => {
    document.getElementById("who").textContent = "signed in as " + (u.username || "?");
  }).catch((e) => {
    if (e.status === 401) clearToken();
  });
  subscribe(render);
  window.addEventListener("hashchange", () => { render(); main().focus(); });
  start();
  render();
}
