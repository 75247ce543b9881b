// Events as a live feed, newest first.
import { h } from "../dom.js";
import { store } from "../store.js";

const when = (e) => e.lastTimestamp || e.eventTime || (e.metadata && e.metadata.creationTimestamp) || "";

export function render() {
  const events = [...store.events.values()].sort((a, b) => when(b).localeCompare(when(a))).slice(0, 200);
  return [
    h("h2", {}, "Events"),
    h("ul", { class: "feed", "aria-label": "events, newest first" }, events.map((e) => {
      const o = e.involvedObject || e.regarding || {};
      return h("li", { "data-reason": e.reason },
        h("time", { class: "muted" }, when(e)), " ",
        h("span", { class: e.type === "Warning" ? "badge bad" : "badge ok" }, e.type || "Normal"), " ",
        h("span", { class: "reason" }, e.reason || ""), " ",
        h("span", {}, (o.kind || "") + " " + (o.namespace ? o.namespace + "/" : "") + (o.name || "")), ": ",
        e.message || e.note || "");
    })),
  ];
}
