// meshctl dashboard: reads the JSON API every refresh and draws the service graph, the
// selected service's charts by version, the findings, and traces with their waterfall.
// What is selected lives in the address (#service=NS/NAME&trace=ID), so a view can be shared
// and reloaded; clicking sets it.
"use strict";

const REFRESH_MS = 2000;
const SVG = "http://www.w3.org/2000/svg";
const COLOURS = ["#2f5fd0", "#c62828", "#1a7f37", "#b26b00", "#7b3fb8", "#00838f"];

const state = { graph: null, findings: [], traces: [], selectedTrace: null };

function selection() {
  const params = new URLSearchParams(location.hash.slice(1));
  return { service: params.get("service") || "", trace: params.get("trace") || "" };
}

function select(change) {
  const params = new URLSearchParams(location.hash.slice(1));
  for (const [key, value] of Object.entries(change)) {
    if (value) params.set(key, value); else params.delete(key);
  }
  location.hash = params.toString();
}

function el(tag, attrs = {}, text) {
  const node = tag.startsWith("svg:") ? document.createElementNS(SVG, tag.slice(4)) : document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  if (text !== undefined) node.textContent = text;
  return node;
}

function ms(value) {
  if (value === null || value === undefined) return "–";
  return value >= 1000 ? (value / 1000).toFixed(2) + "s" : value.toFixed(1) + "ms";
}

function percent(rate) {
  return rate === null || rate === undefined ? "–" : (rate * 100).toFixed(1) + "%";
}

function health(rate, rps) {
  if (!rps || rate === null || rate === undefined) return "idle";
  return rate >= 0.99 ? "good" : rate >= 0.95 ? "warn" : "bad";
}

// A TCP or TLS edge has connections but no requests, so no success rate: open connections
// are a healthy edge.
function edgeHealth(edge) {
  return edge.rps === 0 && edge.cps > 0 ? "good" : health(edge.success_rate, edge.rps);
}

function edgeLines(edge) {
  if (edge.rps === 0 && edge.cps > 0) return [`${edge.cps.toFixed(1)} conn/s`, bytes(edge.bytes_per_second) + "/s"];
  return [`${edge.rps.toFixed(1)} rps · ${percent(edge.success_rate)}`, `p99 ${ms(edge.p99_ms)}`];
}

function bytes(value) {
  const units = ["B", "kB", "MB", "GB"];
  let i = 0;
  while (value >= 1000 && i < units.length - 1) { value /= 1000; i += 1; }
  return value.toFixed(i === 0 ? 0 : 1) + " " + units[i];
}

async function getJson(path) {
  const response = await fetch(path, { cache: "no-store" });
  if (!response.ok) throw new Error(path + ": " + response.status + " " + (await response.text()).trim());
  return response.json();
}

function setStatus(text, error) {
  const status = document.getElementById("status");
  status.textContent = text;
  status.className = error ? "error" : "";
}

// Columns from the entry: a node sits one column right of its furthest caller.
function columns(graph) {
  const column = new Map(graph.nodes.map((n) => [n.id, 0]));
  for (let pass = 0; pass < graph.nodes.length; pass++) {
    let moved = false;
    for (const edge of graph.edges) {
      if (edge.source === edge.target) continue;
      const next = column.get(edge.source) + 1;
      if (next > column.get(edge.target) && next < graph.nodes.length) {
        column.set(edge.target, next);
        moved = true;
      }
    }
    if (!moved) break;
  }
  return column;
}

function nodeFindings(node) {
  const key = node.namespace + "/" + node.service;
  return state.findings.filter((f) => f.services.includes(key));
}

// Whether two boxes ({x, y, w, h}) overlap.
function overlap(a, b) {
  return a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
}

// A point of a cubic curve from (x1,y1) to (x2,y2) whose controls sit at the middle column.
function curvePoint(c, t) {
  const u = 1 - t, mid = (c.x1 + c.x2) / 2;
  return {
    x: u * u * u * c.x1 + 3 * u * u * t * mid + 3 * u * t * t * mid + t * t * t * c.x2,
    y: u * u * u * c.y1 + 3 * u * u * t * c.y1 + 3 * u * t * t * c.y2 + t * t * t * c.y2,
  };
}

// Whether a box lies over a curve other than its own, sampled.
function overCurve(box, curves, own) {
  return curves.some((c, i) => i !== own && Array.from({ length: 24 }, (_, k) => curvePoint(c, (k + 0.5) / 24)).some((p) => overlap(box, { x: p.x - 1, y: p.y - 1, w: 2, h: 2 })));
}

// Where each edge's label goes: by its own curve — on it, above or below it, centred on a point
// of it or ending or starting there, inside the drawing — at the first place that covers no
// node, no label placed before it and no other edge; failing that, the place that covers the
// fewest. Edges that fan out of one node leave little room near it, so the places reach along
// the whole curve and two lines away from it.
function placeLabels(curves, widths, nodes) {
  const placed = [];
  return widths.map((width, i) => {
    const w = width + 6, h = 30;
    const middle = curvePoint(curves[i], 0.5);
    let best = { x: Math.max(0, middle.x - w / 2), y: Math.max(0, middle.y - h / 2), w, h }, fewest = Infinity;
    for (const t of [0.5, 0.6, 0.4, 0.7, 0.3, 0.8, 0.2, 0.9, 0.1]) {
      const p = curvePoint(curves[i], t);
      for (const dy of [0, -17, 17, -34, 34]) {
        for (const dx of [-w / 2, -w + 4, -4]) {
          const box = { x: p.x + dx, y: p.y - h / 2 + dy, w, h };
          // Never above or left of the drawing, where it would be cut off.
          if (box.x < 0 || box.y < 0) continue;
          const covers = nodes.filter((n) => overlap(box, n)).length + placed.filter((b) => overlap(box, b)).length + (overCurve(box, curves, i) ? 1 : 0);
          if (covers < fewest) {
            best = box;
            fewest = covers;
          }
          if (covers === 0) {
            placed.push(box);
            return box;
          }
        }
      }
    }
    placed.push(best);
    return best;
  });
}

// How many labels the browser drew over a node, another label or another edge: the page's own
// check of its layout, which the tests read.
function countOverlaps(svg, curves) {
  const box = (e) => { const b = e.getBBox(); return { x: b.x, y: b.y, w: b.width, h: b.height }; };
  const labels = [...svg.querySelectorAll("text.edge-label")].map((e) => ({ box: box(e), edge: Number(e.dataset.edgeIndex) }));
  const nodes = [...svg.querySelectorAll("g.node")].map((g) => {
    const at = g.transform.baseVal.consolidate().matrix;
    const r = g.querySelector("rect").getBBox();
    return { x: at.e, y: at.f, w: r.width, h: r.height };
  });
  let count = 0;
  labels.forEach((a, i) => {
    if (nodes.some((n) => overlap(a.box, n))) count++;
    if (labels.some((b, j) => j > i && overlap(a.box, b.box))) count++;
    if (overCurve(a.box, curves, a.edge)) count++;
  });
  return count;
}

function renderGraph() {
  const svg = document.getElementById("graph");
  svg.replaceChildren();
  const graph = state.graph;
  if (!graph || graph.nodes.length === 0) {
    svg.append(el("svg:text", { x: 20, y: 30 }, "Waiting for the first window of traffic…"));
    return;
  }
  // A node with no request or connection to or from it in the window is drawn apart, below
  // the others.
  const busy = new Set(graph.edges.filter((e) => e.rps > 0 || e.cps > 0).flatMap((e) => [e.source, e.target]));
  const idle = (node) => node.namespace !== "" && !busy.has(node.id);
  const column = columns(graph);
  const rows = new Map();
  const place = new Map();
  // Columns far enough apart for an edge's label between them.
  const width = 150, height = 44, dx = 390, dy = 80;
  for (const node of graph.nodes.filter((n) => !idle(n))) {
    const c = column.get(node.id);
    const r = rows.get(c) || 0;
    rows.set(c, r + 1);
    place.set(node.id, { x: 20 + c * dx, y: 20 + r * dy });
  }
  const busyRows = Math.max(1, ...rows.values());
  graph.nodes.filter(idle).forEach((node, i) => place.set(node.id, { x: 20 + i * (width + 30), y: 20 + busyRows * dy + 10 }));
  const maxColumn = Math.max(...column.values(), graph.nodes.filter(idle).length > 0 ? 1 : 0);
  const allRows = busyRows + (graph.nodes.some(idle) ? 1 : 0);
  svg.setAttribute("viewBox", `0 0 ${40 + maxColumn * dx + width + 80} ${40 + (allRows - 1) * dy + height + 30}`);
  const defs = el("svg:defs");
  for (const kind of ["good", "warn", "bad", "idle"]) {
    const marker = el("svg:marker", { id: "arrow-" + kind, viewBox: "0 0 10 10", refX: 10, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto" });
    marker.append(el("svg:path", { d: "M0,0 L10,5 L0,10 z", class: kind, fill: "currentColor" }));
    defs.append(marker);
  }
  svg.append(defs);
  const edges = graph.edges.filter((e) => place.get(e.source) && place.get(e.target));
  const curves = edges.map((edge) => {
    const from = place.get(edge.source), to = place.get(edge.target);
    return { x1: from.x + width, y1: from.y + height / 2, x2: to.x, y2: to.y + height / 2 };
  });
  // Two short lines rather than one long one, to fit between edges that fan out.
  const texts = edges.map(edgeLines);
  const nodeBoxes = [...place.values()].map((p) => ({ x: p.x - 4, y: p.y - 4, w: width + 8, h: height + 8 }));
  // Each label as the browser sets it, measured before it is placed.
  const labels = el("svg:g", { class: "labels" });
  svg.append(labels);
  const drawn = edges.map((edge, i) => {
    const text = el("svg:text", { "text-anchor": "middle", class: "edge-label", "data-edge-index": i, "data-label-edge": edge.source + " " + edge.target });
    texts[i].forEach((line, n) => text.append(el("svg:tspan", { dy: n === 0 ? 0 : 13 }, line)));
    labels.append(text);
    return text;
  });
  const boxes = placeLabels(curves, drawn.map((t) => t.getBBox().width), nodeBoxes);
  edges.forEach((edge, i) => {
    const c = curves[i];
    const kind = edgeHealth(edge);
    const group = el("svg:g", { class: "edge " + kind, "data-edge": edge.source + " " + edge.target, "data-rps": edge.rps.toFixed(3), "data-cps": edge.cps.toFixed(3) });
    const mid = (c.x1 + c.x2) / 2;
    group.append(el("svg:path", { d: `M${c.x1},${c.y1} C${mid},${c.y1} ${mid},${c.y2} ${c.x2},${c.y2}`, class: kind, "marker-end": `url(#arrow-${kind})` }));
    svg.append(group);
    const x = boxes[i].x + boxes[i].w / 2;
    drawn[i].setAttribute("y", boxes[i].y + 12);
    for (const line of drawn[i].children) line.setAttribute("x", x);
  });
  const selected = selection().service;
  for (const node of graph.nodes) {
    const at = place.get(node.id);
    const incoming = graph.edges.filter((e) => e.target === node.id);
    const rps = incoming.reduce((sum, e) => sum + e.rps, 0);
    const failed = incoming.reduce((sum, e) => sum + e.rps * (1 - (e.success_rate ?? 1)), 0);
    const connected = incoming.some((e) => e.cps > 0);
    const kind = node.namespace === "" || (!rps && connected) ? "good" : health(rps ? 1 - failed / rps : null, rps);
    const key = node.namespace + "/" + node.service;
    const classes = ["node"];
    if (key === selected) classes.push("selected");
    if (idle(node)) classes.push("idle-node");
    const group = el("svg:g", { class: classes.join(" "), "data-node-id": node.id, transform: `translate(${at.x},${at.y})` });
    group.append(el("svg:rect", { width, height, class: kind }));
    group.append(el("svg:text", { x: 10, y: 18 }, node.service));
    const about = node.namespace === "" ? "entry" : (node.version || "all versions") + " · " + node.namespace + (idle(node) ? " · idle" : "");
    group.append(el("svg:text", { x: 10, y: 34, class: "version" }, about));
    if (idle(node)) {
      group.append(el("svg:title", {}, "No request or connection to or from it in this window (a client that sends through the gateway shows as the gateway's)"));
    }
    const findings = nodeFindings(node);
    if (findings.length > 0) {
      const worst = findings.some((f) => f.severity === "error") ? "bad" : "warn";
      const badge = el("svg:text", { x: width - 20, y: 18, class: "badge " + worst, fill: "currentColor", "data-findings": findings.length }, "⚠");
      badge.append(el("svg:title", {}, findings.map((f) => f.message).join("\n")));
      group.append(badge);
    }
    if (node.namespace !== "") {
      group.addEventListener("click", () => select({ service: key }));
    }
    svg.append(group);
  }
  svg.append(labels);
  svg.dataset.labelOverlaps = String(countOverlaps(svg, curves));
}

function chart(title, unit, series, value, format) {
  const box = el("div", { class: "chart", "data-chart": title });
  box.append(el("h3", {}, `${title} (${unit})`));
  const svg = el("svg:svg", { viewBox: "0 0 400 100", preserveAspectRatio: "none" });
  const points = series.flatMap((s) => s.points);
  const times = points.map((p) => p.t_unix_ms);
  const values = points.map(value).filter((v) => v !== null && v !== undefined);
  const t0 = Math.min(...times), t1 = Math.max(...times);
  const top = Math.max(1e-9, ...values) * 1.1;
  series.forEach((s, i) => {
    const coords = s.points
      .filter((p) => value(p) !== null && value(p) !== undefined)
      .map((p) => {
        const x = t1 > t0 ? ((p.t_unix_ms - t0) / (t1 - t0)) * 390 + 5 : 200;
        const y = 85 - (value(p) / top) * 80;
        return x.toFixed(1) + "," + y.toFixed(1);
      });
    const last = s.points.length ? value(s.points[s.points.length - 1]) : null;
    const line = el("svg:polyline", { points: coords.join(" "), stroke: COLOURS[i % COLOURS.length], "data-chart-version": s.version });
    if (last !== null && last !== undefined) line.setAttribute("data-last", String(last));
    svg.append(line);
  });
  // The value axis: its top and zero; the time axis: how long ago the first point was, and now.
  svg.append(el("svg:text", { x: 4, y: 11, class: "axis", "data-axis": "y" }, format(values.length ? Math.max(...values) : 0)));
  svg.append(el("svg:text", { x: 4, y: 84, class: "axis" }, format(0)));
  svg.append(el("svg:line", { x1: 5, y1: 86, x2: 395, y2: 86, class: "axis-line" }));
  const ago = times.length ? Math.round((Date.now() - t0) / 60000) : 0;
  svg.append(el("svg:text", { x: 5, y: 97, class: "axis", "data-axis": "x" }, ago > 0 ? `${ago} min ago` : "under a minute ago"));
  svg.append(el("svg:text", { x: 395, y: 97, class: "axis", "text-anchor": "end" }, "now"));
  box.append(svg);
  return box;
}

async function renderService() {
  const panel = document.getElementById("service-panel");
  const selected = selection().service;
  if (!selected) {
    panel.hidden = true;
    return;
  }
  const [namespace, name] = selected.split("/");
  const data = await getJson(`/api/services/${encodeURIComponent(namespace)}/${encodeURIComponent(name)}/metrics`);
  panel.hidden = false;
  document.getElementById("service-title").textContent = `${name} (${namespace}) by version`;
  const charts = document.getElementById("charts");
  charts.replaceChildren();
  const legend = el("div", { class: "legend" });
  data.versions.forEach((v, i) => legend.append(el("span", { style: "color:" + COLOURS[i % COLOURS.length], "data-version": v.version }, v.version || "(no version)")));
  charts.append(legend);
  if (data.versions.length === 0) {
    charts.append(el("p", {}, "No requests served yet."));
    return;
  }
  charts.append(chart("Requests", "per second", data.versions, (p) => p.rps, (v) => v.toFixed(1) + " rps"));
  charts.append(chart("Success rate", "%", data.versions, (p) => p.success_rate, (v) => percent(v)));
  charts.append(chart("p50 latency", "ms", data.versions, (p) => p.p50_ms, ms));
  charts.append(chart("p99 latency", "ms", data.versions, (p) => p.p99_ms, ms));
}

function renderFindings() {
  const list = document.getElementById("findings");
  list.replaceChildren();
  if (state.findings.length === 0) {
    list.append(el("li", { class: "none" }, "No warnings or errors in the mesh's configuration."));
  }
  for (const f of state.findings) {
    const item = el("li", { class: f.severity, "data-code": f.code });
    item.append(el("strong", {}, f.severity + " " + f.code + ": "), document.createTextNode(f.message + " "));
    if (f.resource) item.append(el("span", { class: "resource" }, f.resource));
    list.append(item);
  }
}

function traceQuery() {
  const service = document.getElementById("trace-service").value;
  const min = Number(document.getElementById("trace-min").value) || 0;
  const params = new URLSearchParams({ limit: "20", min_duration_ms: String(min) });
  if (service) {
    const [namespace, name] = service.split("/");
    params.set("namespace", namespace);
    params.set("service", name);
  }
  return "/api/traces?" + params.toString();
}

function renderTraceFilter() {
  const select = document.getElementById("trace-service");
  const keys = [...new Set((state.graph?.nodes || []).filter((n) => n.namespace !== "").map((n) => n.namespace + "/" + n.service))].sort();
  const current = [...select.options].map((o) => o.value).slice(1);
  if (keys.join() === current.join()) return;
  const chosen = select.value;
  select.replaceChildren(el("option", { value: "" }, "any"));
  for (const key of keys) select.append(el("option", { value: key }, key));
  select.value = keys.includes(chosen) ? chosen : "";
}

function slowestOf(trace) {
  return trace.spans.find((s) => s.span_id === trace.slowest);
}

function who(span) {
  return span.service + (span.version ? " " + span.version : "");
}

function renderTraces() {
  const body = document.querySelector("#traces tbody");
  body.replaceChildren();
  const selected = selection().trace;
  for (const trace of state.traces) {
    const slowest = slowestOf(trace);
    const row = el("tr", { "data-trace-id": trace.trace_id, class: trace.trace_id === selected ? "selected" : "" });
    row.append(
      el("td", { class: "id" }, trace.trace_id.slice(0, 12)),
      el("td", {}, trace.root),
      el("td", {}, ms(trace.duration_ms)),
      el("td", {}, String(trace.spans.length)),
      el("td", {}, slowest ? who(slowest) + " " + ms(slowest.duration_ms) : "–"),
    );
    row.addEventListener("click", () => select({ trace: trace.trace_id }));
    body.append(row);
  }
  if (state.traces.length === 0) {
    const row = el("tr");
    row.append(el("td", { colspan: 5 }, "No traces yet: send requests through the mesh."));
    body.append(row);
  }
}

function depths(trace) {
  const ids = new Set(trace.spans.map((s) => s.span_id));
  const byId = new Map(trace.spans.map((s) => [s.span_id, s]));
  const depth = (span, seen = 0) => (span.parent_id && ids.has(span.parent_id) && seen < trace.spans.length ? 1 + depth(byId.get(span.parent_id), seen + 1) : 0);
  return new Map(trace.spans.map((s) => [s.span_id, depth(s)]));
}

function inCallOrder(trace) {
  const ids = new Set(trace.spans.map((s) => s.span_id));
  const children = new Map();
  for (const span of trace.spans) {
    const parent = span.parent_id && ids.has(span.parent_id) ? span.parent_id : "";
    if (!children.has(parent)) children.set(parent, []);
    children.get(parent).push(span);
  }
  const order = [];
  const visit = (parent) => {
    for (const span of children.get(parent) || []) {
      order.push(span);
      if (order.length <= trace.spans.length) visit(span.span_id);
    }
  };
  visit("");
  return order;
}

async function renderWaterfall() {
  const box = document.getElementById("waterfall");
  const id = selection().trace;
  let trace = state.traces.find((t) => t.trace_id === id) || (state.selectedTrace?.trace_id === id ? state.selectedTrace : null);
  if (id && !trace) {
    // Not among the slowest now: ask for it by its id.
    trace = (await getJson("/api/traces?trace_id=" + encodeURIComponent(id))).traces[0] || null;
  }
  if (!trace) {
    box.hidden = true;
    return;
  }
  state.selectedTrace = trace;
  box.hidden = false;
  box.replaceChildren(el("h3", {}, `Trace ${trace.trace_id} · ${ms(trace.duration_ms)} · ${trace.root}`));
  box.dataset.traceId = trace.trace_id;
  const start = Math.min(...trace.spans.map((s) => s.start_unix_ms));
  const depth = depths(trace);
  for (const span of inCallOrder(trace)) {
    const classes = ["row", span.kind];
    if (span.span_id === trace.slowest) classes.push("slowest");
    if (span.status_code === 0 || span.status_code >= 500) classes.push("error");
    const row = el("div", { class: classes.join(" "), "data-span-service": span.service, "data-span-version": span.version, "data-span-kind": span.kind });
    const label = el("span", { class: "who", title: span.name }, "\u00a0\u00a0".repeat(depth.get(span.span_id)) + who(span));
    const lane = el("span", { class: "lane" });
    const left = trace.duration_ms > 0 ? ((span.start_unix_ms - start) / trace.duration_ms) * 100 : 0;
    const width = trace.duration_ms > 0 ? (span.duration_ms / trace.duration_ms) * 100 : 100;
    lane.append(el("span", { class: "bar", style: `left:${left.toFixed(2)}%;width:${Math.min(width, 100 - left).toFixed(2)}%` }));
    row.append(label, el("span", {}, span.kind), el("span", {}, ms(span.duration_ms) + (span.status_code ? " " + span.status_code : "")), lane);
    box.append(row);
  }
}

async function refresh() {
  try {
    const [graph, findings] = await Promise.all([getJson("/api/graph"), getJson("/api/findings")]);
    state.graph = graph;
    state.findings = findings.findings;
    renderGraph();
    renderFindings();
    renderTraceFilter();
    await renderService();
    state.traces = (await getJson(traceQuery())).traces;
    renderTraces();
    await renderWaterfall();
    const problems = findings.problems.length ? ` · ${findings.problems.length} problem(s): ${findings.problems[0]}` : "";
    setStatus(`updated ${new Date().toLocaleTimeString()}${problems}`, findings.problems.length > 0);
    document.body.dataset.refreshes = String(Number(document.body.dataset.refreshes || 0) + 1);
  } catch (error) {
    setStatus("cannot read the mesh: " + error.message, true);
  }
}

window.addEventListener("hashchange", refresh);
document.getElementById("trace-filter").addEventListener("change", refresh);
document.getElementById("trace-filter").addEventListener("submit", (event) => event.preventDefault());
refresh();
setInterval(refresh, REFRESH_MS);
