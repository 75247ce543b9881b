// The hub's Kubernetes-style API from the browser: a bearer token, lists, watches and
// access reviews. The token comes from the page's #token= fragment (`berthctl dashboard`) or
// the form, and lives in sessionStorage only (gone when the tab closes).
const TOKEN_KEY = "berth-token";

export function takeTokenFromFragment() {
  const m = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  if (!m) return;
  sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(m[1]));
  // Keep the token out of the address bar and the history.
  history.replaceState(null, "", location.pathname + location.search + "#/fleet");
}

export const token = () => sessionStorage.getItem(TOKEN_KEY) || "";
export const setToken = (t) => sessionStorage.setItem(TOKEN_KEY, t.trim());
export const clearToken = () => sessionStorage.removeItem(TOKEN_KEY);

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export async function api(path, { method = "GET", body, contentType = "application/json", signal } = {}) {
  const headers = { Authorization: "Bearer " + token(), Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = contentType;
  const r = await fetch(path, { method, headers, signal, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch { /* not JSON */ }
  if (!r.ok) throw new ApiError(r.status, (json && json.message) || text || r.statusText);
  return json;
}

// Lists `path`, then follows its watch; `onChange(type, object)` gets every ADDED, MODIFIED
// and DELETED, `onReset(items)` the full list at start and after each relist. Reconnects
// (relisting) when the stream ends or fails; `onStatus(ok, message)` says which.
export function listAndWatch(path, { onReset, onChange, onStatus }) {
  let stopped = false;
  let controller = null;
  async function watchOnce() {
    const list = await api(path);
    onReset(list.items || []);
    let rv = list.metadata && list.metadata.resourceVersion;
    controller = new AbortController();
    const sep = path.includes("?") ? "&" : "?";
    const r = await fetch(path + sep + "watch=1&allowWatchBookmarks=true&resourceVersion=" + encodeURIComponent(rv || ""), {
      headers: { Authorization: "Bearer " + token() }, signal: controller.signal });
    if (!r.ok) throw new ApiError(r.status, await r.text());
    onStatus(true, "live");
    const reader = r.body.getReader();
    const decoder = new TextDecoder();
    let buf = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buf += decoder.decode(value, { stream: true });
      let nl;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        if (!line) continue;
        const ev = JSON.parse(line);
        if (ev.type === "ERROR") return;  // e.g. 410 Gone: relist
        if (ev.type === "BOOKMARK") continue;
        onChange(ev.type, ev.object);
      }
    }
  }
  (async () => {
    let delay = 500;
    while (!stopped) {
      try {
        await watchOnce();
        delay = 500;
      } catch (e) {
        if (stopped) return;
        onStatus(false, e.status === 401 ? "unauthorized" : "reconnecting: " + e.message);
        if (e.status === 401 || e.status === 403) return;
      }
      await new Promise((res) => setTimeout(res, delay));
      delay = Math.min(delay * 2, 5000);
    }
  })();
  return () => { stopped = true; if (controller) controller.abort(); };
}

// Whether the token may do `verb` on a resource (a SelfSubjectAccessReview).
export async function canI(verb, group, resource, { subresource = "", namespace = "" } = {}) {
  try {
    const review = await api("/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", {
      method: "POST",
      body: { apiVersion: "authorization.k8s.io/v1", kind: "SelfSubjectAccessReview",
              spec: { resourceAttributes: { verb, group, resource, subresource, namespace } } } });
    return !!(review.status && review.status.allowed);
  } catch {
    return false;
  }
}

export async function whoAmI() {
  const r = await api("/apis/authentication.k8s.io/v1/selfsubjectreviews", {
    method: "POST", body: { apiVersion: "authentication.k8s.io/v1", kind: "SelfSubjectReview" } });
  return (r.status && r.status.userInfo) || {};
}
