// One member cluster: nodes, GPUs, MIG, drivers, cached images and models, prices, how fast
// replicas start there, and its conditions.
import { h, fmt, table } from "../dom.js";
import { store, region } from "../store.js";
import { health } from "./fleet.js";

export function render(name) {
  const c = store.clusters.get(name);
  if (!c) return [h("h2", {}, name), h("p", { class: "muted" }, "no member cluster named " + name + " (yet)")];
  const st = c.status || {};
  const startup = st.startup || {};
  return [
    h("h2", {}, "Cluster ", c.metadata.name, " ", health(c)),
    h("dl", { class: "facts" },
      h("dt", {}, "region"), h("dd", {}, region(c)),
      h("dt", {}, "zone"), h("dd", {}, (c.spec && c.spec.zone) || "–"),
      h("dt", {}, "backend"), h("dd", {}, (st.backend || "–") + (st.simulated ? " (simulated)" : "")),
      h("dt", {}, "GPUs free / total"), h("dd", {}, ((st.gpus || {}).free ?? "–") + " / " + ((st.gpus || {}).total ?? "–")),
      h("dt", {}, "inventory time"), h("dd", {}, st.inventoryTime || "–"),
      h("dt", {}, "image pull"), h("dd", {}, startup.imagePullMiBps ? startup.imagePullMiBps + " MiB/s" : "not reported (defaults)"),
      h("dt", {}, "weight load"), h("dd", {}, startup.weightLoadGiBps ? startup.weightLoadGiBps + " GiB/s, cached " + startup.cachedWeightLoadGiBps + " GiB/s" : "not reported (defaults)")),
    h("h3", {}, "Nodes"),
    table(["node", "pool", "GPU", "MIG", "free", "GPUs", "driver", "CUDA", "ready"],
      (st.nodes || []).map((n) => [n.name, n.pool, n.gpuProduct, n.migProfile || "–", n.freeGpus, n.gpus,
        n.driverVersion, n.cudaVersion, n.ready === false ? "no" : "yes"]), { numeric: [4, 5] }),
    h("h3", {}, "Prices"),
    table(["GPU", "$ per GPU-hour"], Object.entries(st.pricesPerGpuHour || {}).map(([g, p]) => [g, fmt(p)]), { numeric: [1] }),
    h("h3", {}, "Cached"),
    table(["images", "models"], [[(st.cachedImages || []).join(", ") || "–", (st.cachedModels || []).join(", ") || "–"]]),
    h("h3", {}, "Conditions"),
    table(["type", "status", "reason", "message", "since"],
      (st.conditions || []).map((k) => [k.type, k.status, k.reason, k.message, k.lastTransitionTime])),
  ];
}
