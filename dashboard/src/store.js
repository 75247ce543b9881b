// What the page knows: member clusters, workspaces and events, kept current by watches,
// and a short history sampled every few seconds for the charts.
import { listAndWatch } from "./api.js";
import { key } from "./dom.js";

const BERTH = "/apis/berth.dev/v1alpha1";
export const SAMPLE_SECONDS = 5;
const HISTORY = 180;  // samples kept: 15 minutes

export const store = {
  clusters: new Map(),
  workspaces: new Map(),
  events: new Map(),
  history: [],  // {t, gpuUsed: {region: n}, gpuTotal: {region: n}, rps: {model: x}, ttft: {model: s}}
  status: {},   // collection → {ok, message}
  listeners: new Set(),
};

let scheduled = false;
function changed() {
  if (scheduled) return;
  scheduled = true;
  requestAnimationFrame(() => {
    scheduled = false;
    for (const fn of store.listeners) fn();
  });
}

export function subscribe(fn) {
  store.listeners.add(fn);
  return () => store.listeners.delete(fn);
}

function follow(name, path, into, limit) {
  return listAndWatch(path, {
    onReset(items) {
      into.clear();
      for (const o of items) into.set(key(o), o);
      changed();
    },
    onChange(type, o) {
      if (type === "DELETED") into.delete(key(o));
      else into.set(key(o), o);
      if (limit && into.size > limit) into.delete(into.keys().next().value);
      changed();
    },
    onStatus(ok, message) {
      store.status[name] = { ok, message };
      changed();
    },
  });
}

export const region = (c) => (c.spec && c.spec.region) || (c.metadata.labels || {}).region || "unknown";

export function model(ws) {
  const inf = ws.inference || {};
  return (inf.preset && inf.preset.name) || (ws.model && ws.model.hfId) || ws.metadata.name;
}

function sample() {
  const s = { t: Date.now() / 1000, gpuUsed: {}, gpuTotal: {}, rps: {}, ttft: {} };
  for (const c of store.clusters.values()) {
    const g = (c.status && c.status.gpus) || {};
    const r = region(c);
    s.gpuTotal[r] = (s.gpuTotal[r] || 0) + (g.total || 0);
    s.gpuUsed[r] = (s.gpuUsed[r] || 0) + Math.max(0, (g.total || 0) - (g.free || 0));
  }
  for (const ws of store.workspaces.values()) {
    const m = model(ws);
    for (const e of (ws.status && ws.status.endpoints) || []) {
      const sv = e.serving || {};
      s.rps[m] = (s.rps[m] || 0) + (sv.requestsPerSecond || 0);
      const p90 = sv.ttftSeconds && sv.ttftSeconds.p90;
      if (p90 !== undefined) s.ttft[m] = Math.max(s.ttft[m] || 0, p90);
    }
  }
  store.history.push(s);
  if (store.history.length > HISTORY) store.history.shift();
  changed();
}

export function start() {
  follow("clusters", BERTH + "/memberclusters", store.clusters);
  follow("workspaces", BERTH + "/workspaces", store.workspaces);
  follow("events", "/api/v1/events", store.events, 500);
  sample();
  setInterval(sample, SAMPLE_SECONDS * 1000);
}
