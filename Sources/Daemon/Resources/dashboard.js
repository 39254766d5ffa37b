"use strict";
const $ = (id) => document.getElementById(id);
const state = { selected: null, stream: null, lastID: 0, session: null, findings: [], domains: {}, approval: null, report: null };
const tokenInput = $("token");
tokenInput.value = sessionStorage.getItem("sre-token") || "";
tokenInput.addEventListener("change", () => sessionStorage.setItem("sre-token", tokenInput.value));

function headers(json) {
  const h = {};
  if (json) h["Content-Type"] = "application/json";
  const t = tokenInput.value.trim();
  if (t) h["Authorization"] = "Bearer " + t;
  return h;
}
async function api(path, options = {}) {
  const response = await fetch(path, { ...options, headers: { ...headers(options.body !== undefined), ...(options.headers || {}) } });
  const text = await response.text();
  let body = null;
  try { body = text ? JSON.parse(text) : null; } catch (_) { body = text; }
  if (!response.ok) throw new Error(body && body.error ? body.error.message : ("HTTP " + response.status));
  return body;
}
/* Every value the page shows goes through esc(), in text and in attributes alike. */
const ESCAPES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;", "`": "&#96;" };
function esc(text) { return (text == null ? "" : String(text)).replace(/[&<>"'`]/g, (c) => ESCAPES[c]); }

async function refreshHealth() {
  try { const h = await api("/health"); $("health").textContent = `v${h.version} · ${h.active_sessions} active`; }
  catch (e) { $("health").textContent = "daemon unreachable"; }
}
async function loadEnvironments() {
  try {
    const data = await api("/environments");
    $("environment").innerHTML = data.environments.map(e => `<option value="${esc(e.name)}">${esc(e.name)} (${e.domains.join(", ")})</option>`).join("");
  } catch (e) { $("formError").textContent = e.message; }
}
/* Deep links: /?problem=…&environment=…&context=k=v,… fills the form (a person still presses
   Diagnose: a link from another page must never start anything);
   /#session=ID opens a session (the CLI and the MCP server hand these out). */
async function openFromLocation() {
  const params = new URLSearchParams(location.search);
  if (params.get("problem")) {
    $("problem").value = params.get("problem");
    if (params.get("environment")) $("environment").value = params.get("environment");
    if (params.get("context")) $("context").value = params.get("context");
    $("problem").focus();
  }
  const match = location.hash.match(/^#session=([A-Za-z0-9-]+)$/);
  if (match) select(match[1]);
}
async function loadSessions() {
  try {
    const data = await api("/sessions?limit=50");
    $("sessions").innerHTML = data.sessions.map(s => `
      <li data-id="${esc(s.session_id)}" class="${s.session_id === state.selected ? "selected" : ""}">
        <div class="problem">${esc(s.problem)}</div>
        <span class="badge ${esc(s.status)}">${esc(s.status)}</span>${(s.requester || "").startsWith("alertmanager:") ? ` <span class="badge alert" title="started by an alert">alert</span>` : ""} <span class="muted">${esc(s.environment)} · ${new Date(s.created_at).toLocaleTimeString()}</span>
        <div class="bar"><div style="width:${Math.round(s.progress * 100)}%"></div></div>
      </li>`).join("");
    for (const li of $("sessions").querySelectorAll("li")) li.addEventListener("click", () => select(li.dataset.id));
  } catch (e) { /* shown by health */ }
}

$("new").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("formError").textContent = "";
  const context = {};
  for (const pair of $("context").value.split(",")) {
    const [k, ...v] = pair.split("=");
    if (k && k.trim() && v.length) context[k.trim()] = v.join("=").trim();
  }
  try {
    const accepted = await api("/diagnose", { method: "POST", body: JSON.stringify({ problem: $("problem").value, environment: $("environment").value, context }) });
    $("problem").value = "";
    await loadSessions();
    select(accepted.session_id);
  } catch (e) { $("formError").textContent = e.message; }
});

function select(id) {
  if (state.stream) state.stream.abort();
  history.replaceState(null, "", location.pathname + "#session=" + id);
  Object.assign(state, { selected: id, lastID: 0, session: null, findings: [], domains: {}, approval: null, report: null, status: null, plan: null, notices: [], alerts: [] });
  for (const li of $("sessions").querySelectorAll("li")) li.classList.toggle("selected", li.dataset.id === id);
  render();
  follow(id);
}

/* Server-Sent Events over fetch, so the Authorization header works; resumes with Last-Event-ID. */
async function follow(id) {
  const controller = new AbortController();
  state.stream = controller;
  while (!controller.signal.aborted && state.selected === id) {
    try {
      const h = headers(false);
      if (state.lastID) h["Last-Event-ID"] = String(state.lastID);
      const response = await fetch(`/sessions/${encodeURIComponent(id)}/events`, { headers: h, signal: controller.signal });
      if (!response.ok) { $("detail").innerHTML = `<p class="error">${esc((await response.json()).error.message)}</p>`; return; }
      const reader = response.body.getReader();
      const decoder = new TextDecoder();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        let split;
        while ((split = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, split); buffer = buffer.slice(split + 2);
          let data = ""; let seq = null;
          for (const line of block.split("\n")) {
            if (line.startsWith("id: ")) seq = parseInt(line.slice(4), 10);
            else if (line.startsWith("data: ")) data += line.slice(6);
          }
          if (data) { apply(JSON.parse(data)); if (seq) state.lastID = seq; }
        }
      }
      if (state.status && ["completed", "failed", "cancelled", "expired", "interrupted"].includes(state.status)) return;
    } catch (e) { if (controller.signal.aborted) return; }
    await new Promise(r => setTimeout(r, 1500));
  }
}

function apply(event) {
  const d = event.data;
  switch (event.type) {
    case "session_created": state.session = d; break;
    case "status": state.status = d.status; state.phase = d.phase; state.progress = Math.max(state.progress || 0, d.progress); state.message = d.message; if (d.status !== "awaiting_approval") state.approval = null; break;
    case "plan": state.plan = d; for (const p of d.domains) state.domains[p.domain] = { state: "pending", progress: 0, findings: 0 }; break;
    case "approval_requested": state.approval = d; break;
    case "approval_decided": state.approval = null; state.notices.push(`approval ${d.outcome}${d.approver ? " by " + d.approver : ""}`); break;
    case "credential_failed": state.notices.push(`credential ${d.reference}: ${d.error}`); break;
    case "domain": { const s = state.domains[d.domain] || (state.domains[d.domain] = { progress: 0, findings: 0 }); s.state = d.state; if (d.reason) s.reason = d.reason; if (d.queue_position) s.queue = d.queue_position; if (["completed", "failed", "skipped"].includes(d.state)) s.progress = 1; break; }
    case "probe_progress": { const s = state.domains[d.domain]; if (s) s.progress = Math.max(s.progress, d.fraction); break; }
    case "finding": state.findings.push(d); if (state.domains[d.domain]) state.domains[d.domain].findings++; break;
    case "notice": state.notices.push(d.message); break;
    case "alerts": state.alerts.push(d); break;
    case "report": state.report = d; break;
  }
  render();
  if (event.type === "status") loadSessions();
}

function renderEvidence(e) {
  if (e.text != null) return `<div class="muted">${esc(e.label)}</div><pre>${esc(e.text)}</pre>`;
  if (e.columns) return `<div class="muted">${esc(e.label)}</div><table><tr>${e.columns.map(c => `<th>${esc(c)}</th>`).join("")}</tr>${(e.rows || []).map(r => `<tr>${r.map(c => `<td>${esc(c)}</td>`).join("")}</tr>`).join("")}</table>`;
  return "";
}
/** A finding's time series as an inline SVG: the line, the threshold (dashed), the change point
 * (a vertical marker) and the first/last times. Built from numbers only; labels are escaped. */
function renderChart(s) {
  const pts = (s.points || []).filter(p => Number.isFinite(p.v));
  if (pts.length < 2) return "";
  const W = 480, H = 120, L = 4, R = 4, T = 8, B = 18;
  const t0 = Date.parse(pts[0].t), t1 = Date.parse(pts[pts.length - 1].t);
  const vals = pts.map(p => p.v).concat(s.threshold != null ? [s.threshold] : []);
  let lo = Math.min(...vals, 0), hi = Math.max(...vals);
  if (hi === lo) hi = lo + 1;
  const x = t => L + (W - L - R) * ((t - t0) / Math.max(1, t1 - t0));
  const y = v => T + (H - T - B) * (1 - (v - lo) / (hi - lo));
  const line = pts.map((p, i) => `${i ? "L" : "M"}${x(Date.parse(p.t)).toFixed(1)},${y(p.v).toFixed(1)}`).join(" ");
  const thr = s.threshold != null ? `<line class="threshold" x1="${L}" x2="${W - R}" y1="${y(s.threshold).toFixed(1)}" y2="${y(s.threshold).toFixed(1)}"/>` : "";
  const cp = s.change_point ? Date.parse(s.change_point) : null;
  const mark = cp != null && cp >= t0 && cp <= t1 ? `<line class="change" x1="${x(cp).toFixed(1)}" x2="${x(cp).toFixed(1)}" y1="${T}" y2="${H - B}"/><text x="${Math.min(x(cp) + 3, W - 60).toFixed(1)}" y="${T + 8}">${esc(new Date(cp).toISOString().slice(11, 16))} UTC</text>` : "";
  const hhmm = t => esc(new Date(t).toISOString().slice(11, 16));
  return `<figure class="chart"><figcaption class="muted">${esc(s.name)}</figcaption>
    <svg viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${esc(s.name)}" data-points="${pts.length}">
      <path class="series" d="${line}"/>${thr}${mark}
      <text x="${L}" y="${H - 4}">${hhmm(t0)}</text><text x="${W - R - 30}" y="${H - 4}">${hhmm(t1)}</text>
    </svg></figure>`;
}
function renderFinding(f) {
  return `<div class="finding sev-${esc(f.severity)}" data-code="${esc(f.code)}">
    <span class="sevtag ${esc(f.severity)}">${esc(f.severity)}</span> <strong>${esc(f.title)}</strong>
    <span class="muted"> · ${esc(f.code)} · ${esc(f.domain)} · ${esc(f.target)}</span>
    ${f.detail ? `<div>${esc(f.detail)}</div>` : ""}
    ${f.series ? renderChart(f.series) : ""}
    ${(f.evidence || []).map(renderEvidence).join("")}
    ${f.remediation ? `<div><em>Remediation:</em> ${esc(f.remediation)}</div>` : ""}</div>`;
}
/** For a session an alert started: where it came from and the group's later notifications. */
function renderAlerts(s, updates) {
  const context = Object.entries(s.context || {}).map(([k, v]) => `${esc(k)}=${esc(v)}`).join(" ");
  return `<div class="alerts" id="alerts"><strong>Started by an alert</strong> <span class="muted">(${esc(s.requester)}) ${context}</span>
    ${updates.map(u => `<div class="muted" data-status="${esc(u.status)}">• ${esc(u.status)}: ${esc(u.note)} — ${u.alerts.map(a => esc(a.alertname) + (a.summary ? ": " + esc(a.summary) : "")).join("; ")}</div>`).join("")}</div>`;
}
function renderApproval(a) {
  return `<div class="approval" id="approval">
    <h3>Approval needed</h3>
    <div class="muted">Requested by ${esc(a.requester)} · expires ${new Date(a.expires_at).toLocaleTimeString()}</div>
    ${a.items.map(i => `<label><input type="checkbox" checked value="${esc(i.reference)}"> <code>${esc(i.reference)}</code> — ${esc(i.domain)} (${esc(i.probes.join(", "))}): ${esc(i.purpose)}</label>`).join("")}
    <input id="comment" placeholder="comment (optional)" size="40">
    <button class="primary" id="approve">Approve selected</button>
    <button class="danger" id="deny">Deny</button>
    <div id="approvalError" class="error"></div></div>`;
}
function renderReport(r) {
  return `<div class="report" id="report"><h2>Report</h2><p>${esc(r.summary)}</p>
    <h3>Probable causes</h3>${r.probable_causes.length ? r.probable_causes.map((c, i) => `<div class="cause">${i + 1}. <strong>${esc(c.title)}</strong> <span class="conf">${Math.round(c.confidence * 100)}%</span> <span class="muted">${esc(c.codes.join(", "))}</span><div>${esc(c.explanation)}</div></div>`).join("") : "<p class='muted'>None found.</p>"}
    ${r.next_steps.length ? `<h3>Next steps</h3><ul>${r.next_steps.map(s => `<li>${esc(s)}</li>`).join("")}</ul>` : ""}
    ${r.limitations.length ? `<h3>Not examined</h3><ul>${r.limitations.map(s => `<li>${esc(s)}</li>`).join("")}</ul>` : ""}
    ${r.ruled_out.length ? `<h3>Ruled out</h3><ul>${r.ruled_out.map(s => `<li>${esc(s)}</li>`).join("")}</ul>` : ""}</div>`;
}
function render() {
  if (!state.selected) return;
  const s = state.session || {};
  const domains = Object.entries(state.domains).map(([name, d]) => `<div class="domain" data-domain="${esc(name)}">
      <strong>${esc(name)}</strong> <span class="badge">${esc(d.state || "pending")}${d.queue ? " #" + d.queue : ""}</span> <span class="muted">${d.findings} finding(s)</span>
      <div class="bar"><div style="width:${Math.round((d.progress || 0) * 100)}%"></div></div>${d.reason ? `<div class="muted">${esc(d.reason)}</div>` : ""}</div>`).join("");
  const order = { critical: 0, high: 1, medium: 2, low: 3, info: 4, ok: 5 };
  const findings = [...state.findings].sort((a, b) => order[a.severity] - order[b.severity]);
  $("detail").innerHTML = `<h2>${esc(s.problem || "…")}</h2>
    <div class="muted">${esc(s.environment || "")} · <span class="badge ${esc(state.status || "")}" id="status">${esc(state.status || "…")}</span> ${esc(state.phase || "")} · ${esc(state.message || "")}</div>
    <div class="bar" style="margin-top:6px"><div style="width:${Math.round((state.progress || 0) * 100)}%"></div></div>
    ${(s.requester || "").startsWith("alertmanager:") ? renderAlerts(s, state.alerts) : ""}
    ${state.approval ? renderApproval(state.approval) : ""}
    <div class="domains">${domains}</div>
    ${state.notices.map(n => `<div class="muted">• ${esc(n)}</div>`).join("")}
    ${state.report ? renderReport(state.report) : ""}
    <h3>Findings (${findings.length})</h3><div id="findings">${findings.map(renderFinding).join("")}</div>`;
  if (state.approval) {
    $("approve").addEventListener("click", () => decide(true));
    $("deny").addEventListener("click", () => decide(false));
  }
}
async function decide(approved) {
  const a = state.approval;
  const refs = [...document.querySelectorAll("#approval input[type=checkbox]")].filter(c => c.checked).map(c => c.value);
  const body = { approved, request_id: a.request_id, comment: $("comment").value || undefined };
  if (approved) body.references = refs;
  try { await api(`/approve/${encodeURIComponent(state.selected)}`, { method: "POST", body: JSON.stringify(body) }); }
  catch (e) { $("approvalError").textContent = e.message; }
}

refreshHealth(); loadSessions(); loadEnvironments().then(openFromLocation);
setInterval(() => { refreshHealth(); loadSessions(); }, 5000);
