// Line charts over the sampled history (uPlot, bundled: no CDN). Each chart is an image to
// assistive technology, labelled with its latest values.
import uPlot from "uplot";
import { h } from "./dom.js";

const COLOURS = ["#0b5cad", "#a40e26", "#116329", "#7a4a00", "#6639ba", "#1b1f24"];

// `pick(sample)` returns {seriesName: value}; one line per name seen in the history.
export function lineChart(title, history, pick, unit) {
  const names = [...new Set(history.flatMap((s) => Object.keys(pick(s))))].sort();
  const latest = history.length ? pick(history[history.length - 1]) : {};
  const label = title + ": " + (names.length
    ? names.map((n) => n + " " + (latest[n] === undefined ? "no data" : +latest[n].toFixed(3) + " " + unit)).join(", ")
    : "no data yet");
  const box = h("figure", { class: "chart", role: "img", "aria-label": label },
    h("figcaption", {}, title));
  if (!history.length || !names.length) {
    box.append(h("p", { class: "muted" }, "no data yet"));
    return box;
  }
  const data = [history.map((s) => s.t), ...names.map((n) => history.map((s) => {
    const v = pick(s)[n];
    return v === undefined ? null : v;
  }))];
  const opts = {
    width: 640, height: 200,
    series: [{}, ...names.map((n, i) => ({ label: n, stroke: COLOURS[i % COLOURS.length], width: 2 }))],
    axes: [{}, { label: unit }],
    legend: { live: false },
  };
  // uPlot measures the element it draws into: draw once the figure is in the document.
  queueMicrotask(() => { if (box.isConnected) new uPlot(opts, data, box); });
  return box;
}
