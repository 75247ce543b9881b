// Workspaces: model, revision, replicas per cluster, endpoint weights, autoscaling; requests
// and time to first token per model over time.
import { h, fmt, table, key } from "../dom.js";
import { store, model } from "../store.js";
import { lineChart } from "../charts.js";

export function replicasText(ws) {
  return ((ws.status && ws.status.placements) || [])
    .map((p) => p.cluster + " " + (p.readyReplicas || 0) + "/" + (p.replicas || 0)).join(", ") || "none placed";
}

export function autoscalingText(ws) {
  if (!ws.autoscaling) return "off";
  const a = (ws.status && ws.status.autoscaler) || {};
  let text = (a.currentReplicas ?? "?") + " → " + (a.desiredReplicas ?? "?");
  const m = (a.currentMetrics || []).find((x) => x.type === a.drivingMetric);
  if (m) text += " (" + m.type + " " + fmt(m.value) + ", target " + fmt(m.target) + ")";
  return text;
}

export function render() {
  const rows = [...store.workspaces.values()].sort((a, b) => key(a).localeCompare(key(b))).map((ws) => [
    h("a", { href: "#/workspaces/" + key(ws).split("/").map(encodeURIComponent).join("/") }, key(ws)),
    model(ws),
    String((ws.status && ws.status.revision) || "–"),
    replicasText(ws),
    ((ws.status && ws.status.endpoints) || []).map((e) => e.cluster + " " + e.state + " w" + (e.weight ?? 0)).join(", ") || "–",
    autoscalingText(ws),
  ]);
  return [
    h("h2", {}, "Workspaces"),
    table(["workspace", "model", "revision", "replicas (ready/placed)", "endpoints", "autoscaling"], rows),
    h("h2", {}, "Traffic"),
    lineChart("Requests per second per model", store.history, (s) => s.rps, "req/s"),
    lineChart("p90 time to first token per model", store.history, (s) => s.ttft, "s"),
  ];
}
