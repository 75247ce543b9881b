// Rollouts: stages, per-cluster progress and the gate's message, with approve / pause /
// resume / undo for tokens allowed to update workspaces/status in that namespace (the same
// status write `berthctl rollout approve|pause|resume|undo` makes). The page asks the hub
// first and keeps the buttons disabled for a read-only token; the hub's RBAC decides anyway.
import { h, table, key } from "../dom.js";
import { api, canI } from "../api.js";
import { store } from "../store.js";

const allowed = new Map();  // namespace → Promise<bool>
const known = new Map();    // namespace → bool, once the hub answered
function mayWrite(ns) {
  if (!allowed.has(ns)) {
    allowed.set(ns, canI("update", "berth.dev", "workspaces", { subresource: "status", namespace: ns })
      .then((ok) => { known.set(ns, ok); return ok; }));
  }
  return allowed.get(ns);
}

const ACTIONS = {
  approve: (ro) => ({ ...ro, approvedStages: [...new Set([...(ro.approvedStages || []), ro.stage])] }),
  pause: (ro) => ({ ...ro, paused: true }),
  resume: (ro) => ({ ...ro, paused: false }),
  undo: (ro) => {
    if (!ro.rollbackRevision) throw new Error("there is no earlier good revision to roll back to");
    return { ...ro, undoRequested: true };
  },
};

const results = new Map();  // workspace key → {ok, text}

async function act(ws, action, rerender) {
  const ns = ws.metadata.namespace, name = ws.metadata.name;
  const path = "/apis/berth.dev/v1alpha1/namespaces/" + encodeURIComponent(ns) + "/workspaces/" + encodeURIComponent(name);
  try {
    const fresh = await api(path);  // its resourceVersion makes the write conditional
    const ro = (fresh.status && fresh.status.rollout) || null;
    if (!ro) throw new Error("the workspace has no rollout yet");
    fresh.status.rollout = ACTIONS[action](ro);
    await api(path + "/status", { method: "PUT", body: fresh });
    results.set(key(ws), { ok: true, text: action + ": done (stage " + ro.stage + ")" });
  } catch (e) {
    results.set(key(ws), { ok: false, text: action + " refused: " + e.message });
  }
  rerender();
}

function buttons(ws, ro, rerender) {
  const box = h("div", { class: "actions" });
  const waiting = ro.phase === "AwaitingApproval";
  const done = ["Completed", "Failed", "RolledBack", "RollingBack"].includes(ro.phase);
  const defs = [["approve", waiting], ["pause", !ro.paused && !done], ["resume", !!ro.paused],
                ["undo", !!ro.rollbackRevision && !["RollingBack", "RolledBack"].includes(ro.phase)]];
  const buttons = defs.map(([action, relevant]) => h("button", {
    type: "button", class: action === "approve" ? null : "secondary", disabled: true, "data-relevant": relevant ? "yes" : "no",
    "data-action": action, onclick: () => act(ws, action, rerender) }, action));
  for (const b of buttons) box.append(b, " ");
  // Enabled once the hub says this token may write here; a read-only token is told why.
  // Applied at once when the answer is known, so a re-render keeps the keyboard focus.
  const apply = (ok) => {
    if (ok) {
      for (const b of buttons) b.disabled = b.dataset.relevant !== "yes";
      return;
    }
    box.append(h("span", { class: "muted" }, "read-only: your token may not update workspaces/status in " + ws.metadata.namespace));
  };
  if (known.has(ws.metadata.namespace)) apply(known.get(ws.metadata.namespace));
  else mayWrite(ws.metadata.namespace).then(apply);
  const r = results.get(key(ws));
  if (r) box.append(h("p", { class: r.ok ? "notice" : "error", role: "alert" }, r.text));
  return box;
}

export function render(rerender) {
  const withRollouts = [...store.workspaces.values()].filter((ws) => ws.status && ws.status.rollout)
    .sort((a, b) => key(a).localeCompare(key(b)));
  if (!withRollouts.length) return [h("h2", {}, "Rollouts"), h("p", { class: "muted" }, "no workspace has a rollout")];
  return [h("h2", {}, "Rollouts"), withRollouts.map((ws) => {
    const ro = ws.status.rollout;
    return h("section", { class: "rollout", "data-workspace": key(ws), "aria-label": "rollout of " + key(ws) },
      h("h3", {}, key(ws), " — revision ", String(ro.targetRevision), ": ", ro.phase, ro.paused ? " (paused)" : ""),
      h("p", {}, ro.message || ""),
      h("ol", { class: "stages", "aria-label": "stages" }, (ro.stageNames || []).map((s, i) =>
        h("li", { class: i === ro.stage ? "current" : null, "aria-current": i === ro.stage ? "step" : null },
          s, (ro.approvedStages || []).includes(i) ? " ✓ approved" : ""))),
      table(["cluster", "stage", "progress", "from revision", "surge"],
        Object.entries(ro.clusters || {}).sort().map(([c, p]) => [c, (ro.stageNames || [])[p.stage] ?? p.stage, p.progress,
          p.fromRevision, p.surge ? "yes" : "no"])),
      buttons(ws, ro, rerender));
  })];
}
