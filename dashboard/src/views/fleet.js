// The fleet by region: each cluster's health, GPUs free/total by product and what Berth's
// replicas there cost per hour; GPU use over time per region.
import { h, badge, condition, fmt, table } from "../dom.js";
import { store, region } from "../store.js";
import { lineChart } from "../charts.js";

export function health(c) {
  const cond = condition(c, "Healthy");
  if (!cond) return badge("Unknown", "warn");
  return cond.status === "True" ? badge("Healthy", "ok") : badge("Unhealthy", "bad");
}

function gpusByProduct(c) {
  const out = {};
  for (const n of (c.status && c.status.nodes) || []) {
    if (n.ready === false) continue;
    const p = n.gpuProduct + (n.migProfile ? "/" + n.migProfile : "");
    out[p] = out[p] || { free: 0, total: 0 };
    out[p].free += n.freeGpus || 0;
    out[p].total += n.gpus || 0;
  }
  return out;
}

// $/hour of Berth's replicas on each cluster, from Workspace status.placements.
export function costByCluster() {
  const out = {};
  for (const ws of store.workspaces.values()) {
    for (const p of (ws.status && ws.status.placements) || []) {
      out[p.cluster] = (out[p.cluster] || 0) + (p.costPerHour || 0);
    }
  }
  return out;
}

export function render() {
  const byRegion = new Map();
  for (const c of [...store.clusters.values()].sort((a, b) => a.metadata.name.localeCompare(b.metadata.name))) {
    const r = region(c);
    if (!byRegion.has(r)) byRegion.set(r, []);
    byRegion.get(r).push(c);
  }
  const cost = costByCluster();
  const regions = [...byRegion.keys()].sort().map((r) => {
    const clusters = byRegion.get(r);
    const spend = clusters.reduce((s, c) => s + (cost[c.metadata.name] || 0), 0);
    return h("section", { class: "region", "aria-label": "region " + r },
      h("h3", {}, r, " ", h("span", { class: "muted" }, "$" + fmt(spend) + "/h")),
      clusters.map((c) => {
        const gpus = gpusByProduct(c);
        return h("div", { class: "cluster", "data-cluster": c.metadata.name },
          h("a", { class: "name", href: "#/clusters/" + encodeURIComponent(c.metadata.name) }, c.metadata.name), " ",
          health(c), c.status && c.status.simulated ? h("span", { class: "muted" }, " simulated") : null,
          table(["GPU", "free", "total"], Object.entries(gpus).map(([p, g]) => [p, g.free, g.total]), { numeric: [1, 2] }),
          h("div", { class: "muted" }, "Berth replicas: $" + fmt(cost[c.metadata.name] || 0) + "/h"));
      }));
  });
  return [
    h("h2", {}, "Fleet"),
    h("p", { class: "muted" }, store.clusters.size + " member clusters in " + byRegion.size + " regions"),
    h("div", { class: "regions" }, regions),
    h("h2", {}, "GPU use by region"),
    lineChart("GPUs in use per region", store.history, (s) => s.gpuUsed, "GPUs"),
  ];
}
