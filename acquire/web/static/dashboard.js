/*
 * acquire dashboard: submit jobs, list the organisation's recent jobs, follow each running
 * job live over EventSource, and show results (a risk-drift heatmap for risk_drift jobs).
 *
 * Talks only to the router at <body data-api>. The API key goes in the X-API-Key header;
 * EventSource cannot send headers, so each stream uses a short-lived signed token from
 * POST /jobs/{id}/token. Every piece of server data reaches the page through textContent or
 * attributes, never innerHTML.
 *
 * Risk-drift results. The job's result is the analysis report (acquire.analysis
 * RiskDriftReport, dumped as JSON). The heatmap is `result.heatmap`: a list of cells
 * {category, metric, previous, current, change} with metric one of count, words, tone (net
 * tone, -1..1) and drift (1 - cosine; previous/current null). New and removed factors are the
 * `result.changes` entries whose status is "new"/"removed" ({heading, category, ...}).
 */
(() => {
  "use strict";

  const API = document.body.dataset.api || "/acquire";
  const FINAL = new Set(["completed", "failed", "partially_failed"]);
  const EVENT_TYPES = ["job_queued", "job_started", "step_complete", "item_completed", "item_failed",
    "job_retrying", "job_completed", "job_failed"];
  const KIND_LABELS = { sec_filings: "SEC filings", xbrl_facts: "XBRL facts", yahoo: "Yahoo Finance",
    risk_drift: "Risk drift" };
  const METRICS = ["count", "words", "tone", "drift"];
  const DEFAULT_METRIC = "words"; // changes in every category; counts often stay equal
  const METRIC_LABELS = { count: "risk factors", words: "words", tone: "net tone", drift: "drift (1 − cosine)" };
  // +1: a rise means more risk (red). Net tone falling (more negative words) is riskier; drift
  // has no direction (it is always >= 0), so more drift is shown as more attention-worthy.
  const RISK_SIGN = { count: 1, words: 1, tone: -1, drift: 1 };
  // The job's stream keeps ACQUIRE_EVENTS_MAXLEN events (2000 by default): show them all, but
  // never let one page hold an unbounded list.
  const MAX_EVENTS = 5000;
  const RECONNECT_MS = 2000; // before following again with a fresh token (never a tight loop)

  const $ = (id) => document.getElementById(id);
  const state = {
    key: sessionStorage.getItem("acquire.apiKey") || "",
    jobs: new Map(),      // job id -> status record
    events: new Map(),    // job id -> [JobEvent]
    streams: new Map(),   // job id -> {source, last}
    selected: null,
    results: new Map(),   // job id -> result
    refreshTimers: new Map(),
  };

  // ---- small DOM helpers ----------------------------------------------------------------------

  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs)) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "class") node.className = value;
      else if (name === "text") node.textContent = value;
      else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
      else node.setAttribute(name, value === true ? "" : String(value));
    }
    for (const child of children) {
      if (child !== null && child !== undefined) node.append(child);
    }
    return node;
  }

  function fmt(value) {
    if (value === null || value === undefined) return "—";
    if (typeof value === "number") {
      if (Number.isInteger(value)) return value.toLocaleString("en-US");
      return value.toLocaleString("en-US", { maximumFractionDigits: 3 });
    }
    if (typeof value === "boolean") return value ? "yes" : "no";
    if (Array.isArray(value)) return value.map(fmt).join(", ");
    if (typeof value === "object") return JSON.stringify(value);
    return String(value);
  }

  function signed(value) {
    if (typeof value !== "number") return fmt(value);
    return (value > 0 ? "+" : "") + fmt(value);
  }

  function time(iso) {
    const d = new Date(iso);
    return Number.isNaN(d.getTime()) ? "" : d.toLocaleTimeString("en-GB", { hour12: false });
  }

  function subject(job) {
    const r = job.request || {};
    if (r.ticker) return `${r.ticker} ${(r.years || []).join(" vs ")}`;
    const companies = (r.companies || []).join(", ");
    return r.years ? `${companies} · ${r.years.join(", ")}` : companies;
  }

  // ---- API ------------------------------------------------------------------------------------

  async function api(path, options = {}) {
    const headers = { "X-API-Key": state.key, Accept: "application/json" };
    if (options.body !== undefined) headers["Content-Type"] = "application/json";
    const response = await fetch(API + path, {
      method: options.method || "GET", headers, cache: "no-store",
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
    });
    const data = response.status === 204 ? {} : await response.json().catch(() => ({}));
    if (!response.ok) {
      const error = new Error(data.detail || `HTTP ${response.status}`);
      error.status = response.status;
      error.errors = data.errors || [];
      throw error;
    }
    return data;
  }

  // ---- authentication -------------------------------------------------------------------------

  function setAuthStatus(text, cls) {
    const node = $("auth-status");
    node.textContent = text;
    node.className = `auth-status ${cls || ""}`;
  }

  async function connect(key) {
    for (const stream of state.streams.values()) stream.source.close();
    state.streams.clear();
    state.jobs.clear();
    state.events.clear();
    state.results.clear();
    state.selected = null;
    $("job-detail").hidden = true;
    state.key = key;
    sessionStorage.setItem("acquire.apiKey", key);
    await loadJobs();
  }

  // ---- job list -------------------------------------------------------------------------------

  async function loadJobs() {
    if (!state.key) {
      setAuthStatus("enter a key", "");
      renderJobs();
      return;
    }
    try {
      const data = await api("/jobs?limit=25");
      setAuthStatus("connected", "ok");
      // A followed job's stream is newer than the list: only new or settled jobs take its copy.
      for (const job of data.jobs) {
        if (!state.streams.has(job.job_id)) state.jobs.set(job.job_id, job);
      }
      renderJobs();
      for (const job of data.jobs) if (!FINAL.has(job.state)) follow(job.job_id);
    } catch (err) {
      setAuthStatus(err.status === 401 ? "invalid key" : err.message, "bad");
    }
  }

  // Jobs submitted elsewhere (another tab, the CLI, a host app) show up without a click.
  const LIST_REFRESH_MS = 5000;
  let listing = false;

  async function refreshList() {
    if (!state.key || listing || document.visibilityState !== "visible") return;
    listing = true;
    try {
      await loadJobs();
    } finally {
      listing = false;
    }
  }

  function progressBar(job, label) {
    const bar = el("div", { class: "bar" });
    bar.style.width = `${job.progress || 0}%`;
    return el("div", {
      class: `progress ${job.state}`, role: "progressbar", "aria-label": label,
      "aria-valuemin": 0, "aria-valuemax": 100, "aria-valuenow": job.progress || 0,
    }, bar);
  }

  function badge(stateName) {
    return el("span", { class: `badge ${stateName}`, text: stateName.replace("_", " ") });
  }

  function renderJobs() {
    const body = $("jobs-body");
    const jobs = [...state.jobs.values()].sort((a, b) => (a.created_at < b.created_at ? 1 : -1));
    body.replaceChildren(...jobs.map((job) => el("tr", {
      "data-job-id": job.job_id, "data-job-state": job.state, tabindex: 0,
      "aria-selected": job.job_id === state.selected ? "true" : "false",
      onclick: () => select(job.job_id),
      onkeydown: (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); select(job.job_id); } },
    },
    el("td", { text: KIND_LABELS[job.kind] || job.kind }),
    el("td", { text: subject(job) }),
    el("td", {}, badge(job.state)),
    el("td", {}, progressBar(job, `Progress of ${job.job_id}`)),
    el("td", { class: "muted created", text: time(job.created_at) }))));
    $("jobs-empty").hidden = jobs.length > 0;
  }

  // ---- live events ----------------------------------------------------------------------------

  async function follow(jobId) {
    if (state.streams.has(jobId)) return;
    const stream = { source: null, last: lastEventId(jobId) };
    state.streams.set(jobId, stream);
    let token;
    try {
      token = (await api(`/jobs/${encodeURIComponent(jobId)}/token`, { method: "POST" })).token;
    } catch (err) {
      state.streams.delete(jobId);
      return;
    }
    const params = new URLSearchParams({ token });
    if (stream.last) params.set("last_event_id", stream.last);
    const source = new EventSource(`${API}/jobs/${encodeURIComponent(jobId)}/events?${params}`);
    stream.source = source;
    for (const type of EVENT_TYPES) {
      source.addEventListener(type, (message) => onEvent(jobId, message));
    }
    source.onerror = () => {
      // Browsers reconnect by themselves while the stream is merely interrupted; CLOSED means the
      // server said no (expired token, or 204: nothing left). Re-read the status and, if the job
      // is still running, follow again from the last event with a fresh token.
      if (source.readyState !== EventSource.CLOSED) return;
      state.streams.delete(jobId);
      refreshJob(jobId).then((job) => {
        if (job && !FINAL.has(job.state)) setTimeout(() => follow(jobId), RECONNECT_MS);
      });
    };
  }

  function lastEventId(jobId) {
    const list = state.events.get(jobId) || [];
    return list.length ? list[list.length - 1].id : "";
  }

  function onEvent(jobId, message) {
    let event;
    try {
      event = JSON.parse(message.data);
    } catch (err) {
      return;
    }
    const list = state.events.get(jobId) || [];
    if (list.some((e) => e.id === event.id)) return; // a resumed stream may repeat the last one
    list.push(event);
    if (list.length > MAX_EVENTS) list.splice(0, list.length - MAX_EVENTS);
    state.events.set(jobId, list);

    const job = state.jobs.get(jobId);
    if (job) {
      const data = event.data || {};
      if (event.event === "job_started") job.state = "running";
      if (event.event === "job_retrying") job.state = "retrying";
      if (event.event === "step_complete") {
        job.step = data.step;
        job.progress = Math.max(job.progress || 0, data.progress || 0);
        if (job.state === "queued" || job.state === "retrying") job.state = "running";
      }
      if (event.event === "job_completed" || event.event === "job_failed") {
        job.state = data.state || (event.event === "job_failed" ? "failed" : "completed");
        if (job.state !== "failed") job.progress = 100;
        job.summary = data.summary || job.summary;
        job.error = data.error || job.error;
      }
      renderJobs();
      if (state.selected === jobId) renderDetail();
    }
    if (event.event === "job_completed" || event.event === "job_failed") {
      const stream = state.streams.get(jobId);
      if (stream && stream.source) stream.source.close();
      state.streams.delete(jobId);
      refreshJob(jobId);
    } else if (event.event === "item_completed" || event.event === "item_failed") {
      scheduleRefresh(jobId); // item events carry no counts: batch a status read
    }
  }

  function scheduleRefresh(jobId) {
    if (state.refreshTimers.has(jobId)) return;
    state.refreshTimers.set(jobId, setTimeout(() => {
      state.refreshTimers.delete(jobId);
      refreshJob(jobId);
    }, 300));
  }

  async function refreshJob(jobId) {
    try {
      const job = await api(`/jobs/${encodeURIComponent(jobId)}`);
      state.jobs.set(jobId, job);
      if (FINAL.has(job.state) && !state.results.has(jobId)) {
        state.results.set(jobId, (await api(`/jobs/${encodeURIComponent(jobId)}/result`)).result);
      }
      renderJobs();
      if (state.selected === jobId) renderDetail();
      return job;
    } catch (err) {
      return null;
    }
  }

  // ---- submission -----------------------------------------------------------------------------

  function list(value) {
    return value.split(/[\s,]+/).map((s) => s.trim()).filter(Boolean);
  }

  function years(value) {
    return list(value).map((s) => (/^\d+$/.test(s) ? Number(s) : s));
  }

  function buildRequest() {
    const kind = $("kind").value;
    const fs = document.querySelector(`fieldset[data-kind="${kind}"]`);
    const field = (name) => fs.querySelector(`[name="${name}"]`);
    const checked = (name) => [...fs.querySelectorAll(`input[name="${name}"]:checked`)].map((i) => i.value);
    if (kind === "risk_drift") {
      return { kind, ticker: field("ticker").value.trim(),
        years: [Number(field("current").value), Number(field("previous").value)] };
    }
    const request = { kind, companies: list(field("companies").value) };
    if (kind === "sec_filings") {
      Object.assign(request, { years: years(field("years").value), form_types: checked("form_types"),
        download: field("download").checked, include_amendments: field("include_amendments").checked });
    } else if (kind === "xbrl_facts") {
      Object.assign(request, { years: years(field("years").value), period: field("period").value,
        metrics: [...field("metrics").selectedOptions].map((o) => o.value) });
    } else if (kind === "yahoo") {
      Object.assign(request, { parts: checked("parts"), range: field("range").value });
    }
    return request;
  }

  function showErrors(message, errors) {
    const box = $("form-errors");
    box.replaceChildren(el("strong", { text: message }));
    if (errors && errors.length) {
      box.append(el("ul", {}, ...errors.map((e) => el("li", { text: `${e.field}: ${e.message}` }))));
    }
    box.hidden = false;
  }

  async function submit(event) {
    event.preventDefault();
    $("form-errors").hidden = true;
    if (!state.key) {
      showErrors("Enter your API key first.");
      $("api-key").focus();
      return;
    }
    const button = $("submit-job");
    button.disabled = true;
    try {
      const accepted = await api("/jobs", { method: "POST", body: buildRequest() });
      const job = await api(`/jobs/${encodeURIComponent(accepted.job_id)}`);
      state.jobs.set(job.job_id, job);
      select(job.job_id);
      follow(job.job_id);
    } catch (err) {
      showErrors(err.status === 422 ? "The request is invalid:" : err.message, err.errors);
    } finally {
      button.disabled = false;
    }
  }

  // ---- detail ---------------------------------------------------------------------------------

  function select(jobId) {
    state.selected = jobId;
    renderJobs();
    renderDetail();
    const job = state.jobs.get(jobId);
    if (job && FINAL.has(job.state) && !state.results.has(jobId)) refreshJob(jobId);
    // A finished job's stream still holds its whole timeline: read it once (it ends at the final event).
    if (job && (!FINAL.has(job.state) || !hasFinalEvent(jobId))) follow(jobId);
  }

  function hasFinalEvent(jobId) {
    return (state.events.get(jobId) || []).some((e) => e.event === "job_completed" || e.event === "job_failed");
  }

  function describe(event) {
    const d = event.data || {};
    switch (event.event) {
      case "step_complete": return [`${d.step} (${d.progress}%)`, "evt-step"];
      case "item_completed": return [`item ${d.item} completed`, "evt-ok"];
      case "item_failed": return [`item ${d.item} ${d.state === "not_found" ? "not found" : "failed"}` +
        (d.error ? `: ${d.error}` : ""), "evt-bad"];
      case "job_retrying": return [`retrying${d.error ? `: ${d.error}` : ""}`, "evt-bad"];
      case "job_completed": return [`finished: ${(d.state || "completed").replace("_", " ")}`, "evt-ok"];
      case "job_failed": return [`failed: ${d.error || ""}`, "evt-bad"];
      default: return [event.event.replace("job_", ""), ""];
    }
  }

  function renderDetail() {
    const job = state.jobs.get(state.selected);
    const panel = $("job-detail");
    if (!job) { panel.hidden = true; return; }
    panel.hidden = false;
    panel.dataset.jobId = job.job_id;
    panel.dataset.jobState = job.state;
    $("detail-kind").textContent = KIND_LABELS[job.kind] || job.kind;
    $("detail-id").textContent = job.job_id;
    $("detail-state").replaceWith(Object.assign(badge(job.state), { id: "detail-state" }));
    $("detail-subject").textContent = subject(job);
    const bar = $("detail-progress");
    bar.className = `progress ${job.state}`;
    bar.setAttribute("aria-valuenow", job.progress || 0);
    bar.firstElementChild.style.width = `${job.progress || 0}%`;
    const items = job.items_total ? ` · items ${job.items_done}/${job.items_total}` +
      (job.items_failed ? ` (${job.items_failed} failed)` : "") : "";
    $("detail-step").textContent = FINAL.has(job.state)
      ? `${job.state.replace("_", " ")}${items}`
      : `${job.step ? `step: ${job.step}` : job.state} · ${job.progress || 0}%${items}`;
    const error = $("detail-error");
    error.hidden = !job.error;
    error.textContent = job.error ? `${job.error_type ? `${job.error_type}: ` : ""}${job.error}` : "";
    renderEvents(job.job_id);
    renderResult(job);
  }

  function renderEvents(jobId) {
    // Events only accumulate (apart from the MAX_EVENTS trim): append the new ones, so a long
    // timeline is not rebuilt on every event.
    const list = $("detail-events");
    const events = state.events.get(jobId) || [];
    const item = (e) => {
      const [text, cls] = describe(e);
      return el("li", { class: cls, "data-event": e.event, "data-id": e.id }, el("time", { text: time(e.at) }), text);
    };
    const shown = list.children.length;
    const continues = list.dataset.jobId === jobId && shown <= events.length &&
      (shown === 0 || list.firstElementChild.dataset.id === events[0].id);
    if (continues) list.append(...events.slice(shown).map(item));
    else list.replaceChildren(...events.map(item));
    list.dataset.jobId = jobId;
  }

  function keyValueTable(obj, caption) {
    // One level of nesting is flattened ({"counts": {"new": 1}} -> "counts · new"); deeper is left out.
    const rows = [];
    for (const [k, v] of Object.entries(obj || {})) {
      if (v && typeof v === "object" && !Array.isArray(v)) {
        for (const [k2, v2] of Object.entries(v)) {
          if (typeof v2 !== "object" || v2 === null || Array.isArray(v2)) rows.push([`${k} · ${k2}`, v2]);
        }
      } else {
        rows.push([k, v]);
      }
    }
    if (!rows.length) return null;
    return el("table", { class: "table summary-table" },
      caption ? el("caption", { class: "sr-only", text: caption }) : null,
      el("tbody", {}, ...rows.map(([k, v]) => el("tr", { "data-key": k },
        el("th", { scope: "row", text: k.replaceAll("_", " ") }),
        el("td", { class: typeof v === "number" ? "num" : "", text: fmt(v) })))));
  }

  function renderResult(job) {
    const box = $("detail-result");
    const result = state.results.get(job.job_id);
    if (!FINAL.has(job.state)) {
      delete box.dataset.renderedFor;
      box.replaceChildren(el("p", { class: "muted", text: "The result appears here when the job finishes." }));
      return;
    }
    if (box.dataset.renderedFor === job.job_id && result !== undefined) return; // keep heatmap controls
    const summary = [el("h3", { text: "Summary" }), keyValueTable(job.summary, "Summary") ||
      el("p", { class: "muted", text: "No summary." })];
    const parts = [];
    // A risk-drift report leads with its own summary and heatmap; the job's counts follow.
    if (result && job.kind === "risk_drift") parts.push(...riskDrift(result), ...summary);
    else parts.push(...summary);
    if (result && job.kind === "sec_filings") parts.push(...secFilings(result, job.job_id));
    if (result !== undefined) {
      const text = JSON.stringify(result, null, 2);
      parts.push(el("details", {}, el("summary", { text: "Raw result (JSON)" }),
        el("pre", { text: text.length > 200000 ? `${text.slice(0, 200000)}\n…` : text })));
      box.dataset.renderedFor = job.job_id;
    }
    box.replaceChildren(...parts);
  }

  function secFilings(result, jobId) {
    const rows = [];
    for (const company of result.companies || []) {
      for (const f of company.filings || []) rows.push([company.company, f]);
    }
    if (!rows.length) return [];
    const sections = el("div", { id: "filing-sections", class: "filing-sections" });
    return [el("h3", { text: "Filings" }), el("div", { class: "scroll-x" }, el("table", { class: "table filings" },
      el("thead", {}, el("tr", {}, ...["Company", "Form", "FY", "Filed", "Accession", "Size", "Status", "Document"]
        .map((h) => el("th", { scope: "col", text: h })))),
      el("tbody", {}, ...rows.map(([c, f]) => el("tr", { "data-accession": f.accession },
        el("td", { text: c }), el("td", { text: f.form }), el("td", { text: String(f.fiscal_year ?? "—") }),
        el("td", { text: fmt(f.filing_date || f.filed) }), el("td", { class: "mono", text: fmt(f.accession) }),
        el("td", { class: "num", text: f.size ? `${(f.size / 1024).toFixed(0)} KB` : "—" }),
        el("td", { text: fmt(f.status) }),
        el("td", {}, ...documentLinks(jobId, f, sections))))))), sections];
  }

  /** Download and Sections buttons for a stored filing (the routes need the API key header). */
  function documentLinks(jobId, filing, sections) {
    if (!filing.store_uri) return [el("span", { class: "muted", text: "—" })];
    const base = `/jobs/${encodeURIComponent(jobId)}/documents/${encodeURIComponent(filing.accession)}`;
    const links = [];
    if (filing.document_uri) {
      links.push(el("button", { type: "button", class: "link", text: "Download", onclick: () => download(base, filing) }));
    }
    if (filing.sections_uri) {
      links.push(el("button", { type: "button", class: "link", text: "Sections",
        onclick: () => showSections(base, filing, sections) }));
    }
    return links;
  }

  async function download(base, filing) {
    const response = await fetch(API + base, { headers: { "X-API-Key": state.key } });
    if (!response.ok) return;
    const url = URL.createObjectURL(await response.blob());
    const name = filing.primary_document || `${filing.accession}.htm`;
    el("a", { href: url, download: name }).click();
    setTimeout(() => URL.revokeObjectURL(url), 60000);
  }

  async function showSections(base, filing, box) {
    const data = await api(`${base}/sections`);
    const text = el("pre", { class: "section-text", id: "section-text" });
    const items = (data.sections || []).map((s) => el("li", {},
      el("button", { type: "button", class: "link", "data-item": s.item,
        text: `Item ${s.item}. ${s.title}${s.status === "present" ? "" : ` (${s.status.replaceAll("_", " ")})`}`,
        onclick: async () => { text.textContent = (await api(`${base}/sections/${encodeURIComponent(s.item)}`)).text; } })));
    box.replaceChildren(el("h4", { text: `Sections of ${filing.accession}` }), el("ul", { class: "sections" }, ...items), text);
  }

  // ---- risk drift -----------------------------------------------------------------------------

  /** The heatmap cells grouped by category: [{category, previous: {metric: v}, current, change}]. */
  function heatmapRows(result) {
    const rows = new Map();
    for (const cell of Array.isArray(result.heatmap) ? result.heatmap : []) {
      if (!cell || typeof cell.category !== "string" || typeof cell.metric !== "string") continue;
      if (!rows.has(cell.category)) {
        rows.set(cell.category, { category: cell.category, previous: {}, current: {}, change: {} });
      }
      const row = rows.get(cell.category);
      row.previous[cell.metric] = cell.previous;
      row.current[cell.metric] = cell.current;
      row.change[cell.metric] = cell.change;
    }
    return [...rows.values()];
  }

  function factors(result, status) {
    return (Array.isArray(result.changes) ? result.changes : []).filter((c) => c && c.status === status);
  }

  const CATEGORY_LABELS = { geopolitical_trade: "Geopolitical & trade", products_technology: "Products & technology",
    it_continuity: "IT & continuity", capital_liquidity: "Capital & liquidity", market_risk: "Market risk",
    mergers_acquisitions: "Mergers & acquisitions", climate_esg: "Climate & ESG", pandemic_health: "Pandemic & health",
    stock_governance: "Stock & governance", intellectual_property: "Intellectual property", human_capital: "Human capital" };

  function label(category) {
    if (CATEGORY_LABELS[category]) return CATEGORY_LABELS[category];
    const text = String(category).replaceAll("_", " ");
    return text.charAt(0).toUpperCase() + text.slice(1);
  }

  function segmentationWarnings(result) {
    const years = Array.isArray(result.years) ? result.years : [result.years?.current, result.years?.previous];
    const items = [];
    for (const [side, year] of [["previous", years[1]], ["current", years[0]]]) {
      const warnings = result[side]?.segmentation?.warnings || [];
      for (const w of warnings) items.push(el("li", { text: `${side}${year ? ` (FY${year})` : ""}: ${w}` }));
    }
    if (!items.length) return [];
    return [el("div", { class: "segmentation-warnings", id: "segmentation-warnings", role: "alert" },
      el("h3", { text: "Unreliable: segmentation warnings" }), el("ul", {}, ...items))];
  }

  function riskDrift(result) {
    const parts = [...segmentationWarnings(result)];
    if (result.executive_summary) {
      parts.push(el("h3", { text: "Executive summary" }),
        el("p", { class: "summary-text", id: "executive-summary", text: result.executive_summary }));
    }
    const rows = heatmapRows(result);
    if (rows.length) {
      const available = METRICS.filter((m) => rows.some((r) => typeof r.change[m] === "number"));
      const select = el("select", { id: "heatmap-metric" },
        ...available.map((m) => el("option", { value: m, text: METRIC_LABELS[m] || m, selected: m === DEFAULT_METRIC })));
      const holder = el("div", { id: "heatmap", class: "scroll-x" });
      const draw = () => holder.replaceChildren(heatmap(rows, select.value));
      select.addEventListener("change", draw);
      draw();
      parts.push(el("h3", { text: "Risk heatmap" }),
        el("div", { class: "heatmap-controls" }, el("label", { for: "heatmap-metric", text: "Measure" }), select),
        holder,
        el("p", { class: "legend" }, el("span", { class: "up", text: "risk increased" }),
          el("span", { class: "down", text: "risk decreased" }), el("span", { class: "same", text: "unchanged" })));
    }
    const factorList = (items, id) => (items.length
      ? el("ul", { id }, ...items.map((f) => el("li", { "data-category": f.category }, f.heading,
        el("div", { class: "cat", text: label(f.category) }))))
      : el("p", { id, class: "muted", text: "None." }));
    const added = factors(result, "new");
    const removed = factors(result, "removed");
    parts.push(el("div", { class: "factors" },
      el("div", {}, el("h3", { text: `New factors (${added.length})` }), factorList(added, "new-factors")),
      el("div", {}, el("h3", { text: `Removed factors (${removed.length})` }), factorList(removed, "removed-factors"))));
    const stats = (side) => result[side] || {};
    const years = Array.isArray(result.years) ? result.years : [result.years?.current, result.years?.previous];
    if (result.previous && result.current) {
      const row = (name, pick) => el("tr", {}, el("th", { scope: "row", text: name }),
        el("td", { class: "num", text: fmt(pick(stats("previous"))) }),
        el("td", { class: "num", text: fmt(pick(stats("current"))) }));
      parts.push(el("h3", { text: "Item 1A" }), el("div", { class: "scroll-x" }, el("table", { class: "table section-stats" },
        el("thead", {}, el("tr", {}, el("th", { scope: "col", text: "" }),
          el("th", { scope: "col", class: "num", text: `previous${years[1] ? ` (FY${years[1]})` : ""}` }),
          el("th", { scope: "col", class: "num", text: `current${years[0] ? ` (FY${years[0]})` : ""}` }))),
        el("tbody", {}, row("risk factors", (x) => x.factors), row("words", (x) => x.words),
          row("net tone", (x) => x.tone && x.tone.net_tone),
          row("heading style", (x) => x.segmentation && x.segmentation.heading_style),
          row("coverage", (x) => x.segmentation && x.segmentation.coverage)))));
    }
    if (Array.isArray(result.recommendations) && result.recommendations.length) {
      parts.push(el("h3", { text: "Recommendations" }),
        el("ul", { class: "recommendations" }, ...result.recommendations.map((r) => el("li", { text: r }))));
    }
    return parts;
  }

  function heatmap(rows, metric) {
    const sign = RISK_SIGN[metric] || 1;
    const peak = Math.max(1e-9, ...rows.map((r) => Math.abs(Number(r.change[metric]) || 0)));
    const shade = (change) => {
      const risk = (Number(change) || 0) * sign;
      if (!risk) return ["unchanged", ""];
      const alpha = (0.12 + 0.5 * Math.min(1, Math.abs(risk) / peak)).toFixed(2);
      return risk > 0 ? ["increased", `rgb(220 38 38 / ${alpha})`] : ["decreased", `rgb(22 163 74 / ${alpha})`];
    };
    const columns = ["previous", "current", "change"];
    return el("table", { class: "heatmap", "data-metric": metric },
      el("caption", { class: "sr-only", text: `Risk categories by ${METRIC_LABELS[metric] || metric}: previous, current and change` }),
      el("thead", {}, el("tr", {}, el("th", { scope: "col", text: "Category" }),
        ...columns.map((c) => el("th", { scope: "col", text: c })))),
      el("tbody", {}, ...rows.map((r) => {
        const [risk, colour] = shade(r.change[metric]);
        return el("tr", { "data-category": r.category, "data-risk": risk },
          el("th", { scope: "row", text: label(r.category) }),
          ...columns.map((column) => {
            const value = r[column][metric];
            const cell = el("td", {
              class: column, "data-category": r.category, "data-column": column,
              "data-value": value ?? "", "data-risk": risk,
              title: `${label(r.category)} · ${column} ${METRIC_LABELS[metric] || metric}: ${fmt(value)}`,
              text: column === "change" ? signed(value) : fmt(value),
            });
            // The change cell carries the full colour, the year columns a lighter wash of it.
            if (colour) cell.style.background = column === "change" ? colour : colour.replace(/\/ [\d.]+\)/, "/ 0.08)");
            return cell;
          }));
      })));
  }

  // ---- wiring ---------------------------------------------------------------------------------

  /**
   * A link such as `/#key=...` (what `acquire demo` prints) opens the page connected. The
   * fragment never reaches a server; it is removed from the address bar and history at once.
   */
  function keyFromLink() {
    const fragment = new URLSearchParams(location.hash.slice(1));
    const key = (fragment.get("key") || "").trim();
    if (!key) return false;
    fragment.delete("key");
    const rest = fragment.toString();
    history.replaceState(null, "", `${location.pathname}${location.search}${rest ? `#${rest}` : ""}`);
    state.key = key;
    sessionStorage.setItem("acquire.apiKey", key);
    return true;
  }

  function showKind() {
    const kind = $("kind").value;
    for (const fs of document.querySelectorAll("fieldset[data-kind]")) {
      fs.hidden = fs.dataset.kind !== kind;
      fs.disabled = fs.hidden;
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("kind").addEventListener("change", showKind);
    showKind();
    $("job-form").addEventListener("submit", submit);
    $("refresh").addEventListener("click", () => loadJobs());
    $("auth-form").addEventListener("submit", (event) => {
      event.preventDefault();
      connect($("api-key").value.trim());
    });
    keyFromLink();
    $("api-key").value = state.key;
    loadJobs();
    window.addEventListener("hashchange", () => { // the link opened in a tab already showing the page
      if (!keyFromLink()) return;
      $("api-key").value = state.key;
      connect(state.key);
    });
    setInterval(refreshList, LIST_REFRESH_MS);
  });
})();
