// One Workspace: where it runs and why there (the placement decision's score terms and the
// clusters it rejected), its endpoints and traffic, autoscaling and conditions.
import { h, fmt, table } from "../dom.js";
import { store, model } from "../store.js";
import { autoscalingText } from "./workspaces.js";

function explanation(d) {
  if (!d) return [h("p", { class: "muted" }, "no placement decision recorded yet")];
  const terms = ["availability", "cost", "locality", "warmCache", "affinity"];
  return [
    h("p", {}, d.placed + " of " + d.requested + " replicas placed; " + d.feasibleClusters + " feasible clusters",
      d.unplaced ? " — " + d.unplaced.reason + ": " + d.unplaced.message : ""),
    table(["cluster", "score", "replicas", ...terms, "start (s)"],
      (d.scores || []).map((s) => [s.cluster, fmt(s.score), s.replicas, ...terms.map((t) => fmt((s.terms || {})[t])),
        s.startSeconds === undefined ? "–" : fmt(s.startSeconds, 1)]),
      { caption: "Score terms (0–100, higher is better) of the best clusters", numeric: [1, 2, 3, 4, 5, 6, 7, 8],
        name: "scores" }),
    h("h4", {}, "Rejected"),
    (d.rejected || []).length
      ? table(["cluster", "reason", "why"], d.rejected.map((r) => [r.cluster, r.reason, r.message]))
      : h("p", { class: "muted" }, "no cluster was rejected"),
  ];
}

export function render(ns, name) {
  const ws = store.workspaces.get(ns + "/" + name);
  if (!ws) return [h("h2", {}, ns + "/" + name), h("p", { class: "muted" }, "no such workspace (yet)")];
  const st = ws.status || {};
  return [
    h("h2", {}, "Workspace ", ns, "/", name),
    h("dl", { class: "facts" },
      h("dt", {}, "model"), h("dd", {}, model(ws)),
      h("dt", {}, "revision"), h("dd", {}, String(st.revision ?? "–")),
      h("dt", {}, "rollout"), h("dd", {}, st.rollout ? st.rollout.phase + ": " + (st.rollout.message || "") : "–"),
      h("dt", {}, "autoscaling"), h("dd", {}, autoscalingText(ws))),
    h("h3", {}, "Placements"),
    table(["cluster", "GPU", "GPUs/replica", "replicas", "ready", "revision", "phase", "$/h"],
      (st.placements || []).map((p) => [p.cluster, p.gpu, p.gpusPerReplica, p.replicas, p.readyReplicas || 0,
        p.revision, p.phase, fmt(p.costPerHour)]), { numeric: [2, 3, 4, 5, 7], name: "placements" }),
    h("h3", {}, "Endpoints"),
    table(["cluster", "state", "weight", "req/s", "running", "waiting", "TTFT p90 (s)", "errors"],
      (st.endpoints || []).map((e) => {
        const s = e.serving || {};
        return [e.cluster, e.state, e.weight ?? 0, fmt(s.requestsPerSecond, 1), s.running ?? "–", s.waiting ?? "–",
          fmt(s.ttftSeconds && s.ttftSeconds.p90, 3), s.errorRate === undefined ? "–" : fmt(100 * s.errorRate, 1) + " %"];
      }), { numeric: [2, 3, 4, 5, 6] }),
    h("h3", {}, "Why these clusters"),
    explanation(st.placementDecision),
    h("h3", {}, "Conditions"),
    table(["type", "status", "reason", "message"], (st.conditions || []).map((c) => [c.type, c.status, c.reason, c.message])),
  ];
}
