/* The unigate dashboard: a small single-page app over the gateway's own APIs. No build step. */
(function () {
  "use strict";
  const C = window.UGCharts;
  const KEY_STORE = "unigate.key";
  // key: an API key typed in (kept for the tab); csrf: set when signed in with an account (a cookie session)
  const state = { key: sessionStorage.getItem(KEY_STORE) || "", csrf: null, who: null, timer: null, models: null, aborts: [] };

  // ---------------------------------------------------------------------------------------
  // helpers

  function h(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else if (k === "class") node.className = v;
      else if (k === "text") node.textContent = v;
      else node.setAttribute(k, v === true ? "" : v);
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.appendChild(typeof child === "string" || typeof child === "number" ? document.createTextNode(String(child)) : child);
    }
    return node;
  }
  const $ = (sel, root) => (root || document).querySelector(sel);

  class ApiError extends Error {
    constructor(status, message) { super(message); this.status = status; }
  }

  async function api(path, options) {
    const opts = Object.assign({ method: "GET" }, options || {});
    const headers = {};
    if (state.key || !state.csrf) headers.authorization = "Bearer " + state.key;
    if (state.csrf && opts.method !== "GET") headers["x-csrf-token"] = state.csrf;
    if (opts.body !== undefined) headers["content-type"] = "application/json";
    const reply = await fetch(path, { method: opts.method, headers: headers, body: opts.body === undefined ? undefined : JSON.stringify(opts.body) });
    const raw = await reply.text();
    let data = null;
    try { data = raw ? JSON.parse(raw) : null; } catch (e) { data = null; }
    if (!reply.ok) {
      const message = data && data.error ? data.error.message : `HTTP ${reply.status}`;
      if (reply.status === 401) signOut(message);
      throw new ApiError(reply.status, message);
    }
    return data;
  }

  function usd(v) {
    if (v === null || v === undefined) return "—";
    if (v === 0) return "$0";
    if (Math.abs(v) < 0.01) return "$" + v.toPrecision(3);
    return "$" + v.toFixed(Math.abs(v) < 100 ? 4 : 2);
  }
  const ms = (v) => (v === null || v === undefined ? "—" : v >= 10000 ? (v / 1000).toFixed(1) + " s" : (v < 10 ? v.toFixed(1) : Math.round(v)) + " ms");
  // chart axes: sub-10 ms gateways need a decimal, or every tick reads "1"
  const axisMs = (v, decimals) => v.toFixed(decimals);  // as many decimals as the tick step needs
  const pct = (v) => (v === null || v === undefined ? "—" : (v * 100).toFixed(v < 0.1 && v > 0 ? 2 : 1) + "%");
  const num = (v) => (v === null || v === undefined ? "—" : Number(v).toLocaleString("en-US"));
  // the admin API takes times in the query string as ISO 8601
  const isoAt = (unix) => new Date(unix * 1000).toISOString();
  const dayAgo = (days) => { const d = new Date(Date.now() - days * 86400000); d.setUTCHours(0, 0, 0, 0); return d.toISOString(); };

  function clearTimer() {
    if (state.timer) clearInterval(state.timer);
    state.timer = null;
  }
  function every(seconds, fn) {
    clearTimer();
    state.timer = setInterval(() => fn().catch(showError), seconds * 1000);
  }
  function showError(err) {
    const page = $("#page");
    let box = $("#page-error");
    if (!box) { box = h("p", { id: "page-error", class: "error" }); page.prepend(box); }
    box.textContent = err && err.message ? err.message : String(err);
  }
  function stat(label, id) {
    return h("div", { class: "card stat" }, h("div", { class: "label", text: label }), h("div", { class: "value", id: id, text: "—" }));
  }
  function rangeSelect(id, onchange, values, initial) {
    const sel = h("select", { id: id, onchange: onchange });
    for (const [v, label] of values) sel.appendChild(h("option", { value: v, selected: v === initial }, label));
    return sel;
  }
  const RANGES = [["5m", "last 5 minutes"], ["15m", "last 15 minutes"], ["1h", "last hour"], ["6h", "last 6 hours"], ["24h", "last 24 hours"]];
  function table(headers, rows, attrs) {
    return h("table", attrs || {},
      h("thead", {}, h("tr", {}, headers.map((x) => h("th", { class: x.num ? "num" : "" }, x.label || x)))),
      h("tbody", {}, rows));
  }

  // ---------------------------------------------------------------------------------------
  // sign in

  async function signIn(key) {
    state.key = key;
    state.models = null;  // another key may see other models
    try {
      state.who = await api("/ui/api/whoami");
    } catch (err) {
      state.key = "";
      sessionStorage.removeItem(KEY_STORE);
      throw err;
    }
    sessionStorage.setItem(KEY_STORE, key);
    enter();
  }

  // Show the dashboard for state.who: a key or the master key, or a signed-in user (who.user),
  // whose pages depend on their role (admin, team admin, member).
  function enter() {
    $("#signin").hidden = true;
    $("#app").hidden = false;
    const who = state.who;
    if (who.user) $("#who").textContent = `${who.user.email} (${who.role.replace("_", " ")})`;
    else $("#who").textContent = who.admin ? (who.kind === "master" ? "admin (master key)" : "admin (no auth)") : `key ${who.key_name || who.key_id}`;
    for (const link of document.querySelectorAll("#nav a")) link.hidden = !allowed(link.dataset.page);
    route();
  }

  // which pages the signed-in party sees: account pages for users, operator pages for keys and admins
  function allowed(name) {
    const page = pages[name], who = state.who;
    if (!page || !who) return false;
    if (page.allowed) return page.allowed(who);
    if (who.user && !who.admin) return false;
    return name !== "keys" || who.admin;
  }

  function signOut(message) {
    clearTimer();
    if (state.csrf) fetch("/auth/logout", { method: "POST", headers: { "x-csrf-token": state.csrf } }).catch(() => null);
    state.key = "";
    state.csrf = null;
    state.who = null;
    sessionStorage.removeItem(KEY_STORE);
    if (window.UGPortal) window.UGPortal.signedOut();
    $("#app").hidden = true;
    $("#signin").hidden = false;
    $("#signin-error").textContent = message || "";
  }

  $("#signin-form").addEventListener("submit", (event) => {
    event.preventDefault();
    $("#signin-error").textContent = "";
    signIn($("#signin-key").value.trim()).catch((err) => { $("#signin-error").textContent = err.message; });
  });
  $("#signout").addEventListener("click", () => signOut(""));

  // ---------------------------------------------------------------------------------------
  // pages

  const pages = {};

  pages.overview = async function (page) {
    let range = sessionStorage.getItem("unigate.range") || "15m";
    page.append(
      h("div", { class: "toolbar" }, h("h2", { text: "Overview" }),
        rangeSelect("range", (e) => { range = e.target.value; sessionStorage.setItem("unigate.range", range); load().catch(showError); }, RANGES, range),
        h("span", { class: "muted", id: "overview-note" })),
      h("div", { class: "stats" },
        stat("Requests / s", "stat-rps"), stat("Requests", "stat-requests"), stat("Error rate", "stat-errors"),
        stat("Latency p50", "stat-p50"), stat("Latency p95", "stat-p95"), stat("TTFT p50", "stat-ttft50"),
        stat("TTFT p95", "stat-ttft95"), stat("Spend today (UTC)", "stat-spend")),
      h("div", { class: "grid" },
        h("div", { class: "card", id: "chart-rps" }), h("div", { class: "card", id: "chart-errors" }),
        h("div", { class: "card", id: "chart-latency" }), h("div", { class: "card", id: "chart-ttft" })),
      h("div", { class: "card", id: "auto-routing", hidden: true }));

    async function load() {
      const data = await api(`/ui/api/overview?range=${range}`);
      const t = data.totals;
      $("#stat-rps").textContent = t.rps.toFixed(t.rps < 1 ? 3 : 1);
      $("#stat-requests").textContent = num(t.requests);
      $("#stat-errors").textContent = pct(t.error_rate);
      $("#stat-p50").textContent = ms(t.p50_ms);
      $("#stat-p95").textContent = ms(t.p95_ms);
      $("#stat-ttft50").textContent = ms(t.ttft_p50_ms);
      $("#stat-ttft95").textContent = ms(t.ttft_p95_ms);
      $("#overview-note").textContent = `this gateway process, ${data.step}s per point` + (data.since_process_start < data.seconds ? " (started " + Math.round(data.since_process_start / 60) + " min ago)" : "");
      const pts = data.points;
      const series = (name, field, scale) => ({ name: name, values: pts.map((p) => [p.t, p.requests || field === "rps" ? (p[field] === null ? null : p[field] * (scale || 1)) : null]) });
      C.lineChart($("#chart-rps"), { title: "Requests per second", series: [series("requests/s", "rps")] });
      C.lineChart($("#chart-errors"), { title: "Error rate", series: [{ name: "error rate", color: "#dc2626", values: pts.map((p) => [p.t, p.requests ? p.error_rate * 100 : null]) }], yFormat: (v, decimals) => v.toFixed(decimals) + "%", zeroIsData: true });
      C.lineChart($("#chart-latency"), { title: "Latency (ms)", series: [series("p50", "p50_ms"), Object.assign(series("p95", "p95_ms"), { color: "#9333ea" })], yFormat: axisMs });
      C.lineChart($("#chart-ttft"), { title: "Time to first token (ms, streams)", series: [series("p50", "ttft_p50_ms"), Object.assign(series("p95", "ttft_p95_ms"), { color: "#9333ea" })], yFormat: axisMs });
      let spend = data.spend_today_process, source = "this process";
      if (state.who.accounts) {
        try {
          const usage = await api(`/admin/usage?since=${encodeURIComponent(isoAt(data.midnight))}&limit=1`);
          spend = usage.total.cost || 0;
          source = "ledger";
        } catch (err) { /* the in-process number stays */ }
      }
      $("#stat-spend").textContent = usd(spend);
      $("#stat-spend").title = "from the " + source;
      if (state.who.admin) await loadAuto();
    }

    // model: "auto": per policy, the share routed to each model, the estimated saving and the feedback quality
    async function loadAuto() {
      let stats;
      try { stats = (await api("/v1/auto/stats")).data; } catch (err) { return; }  // auto routing off
      const box = $("#auto-routing");
      box.hidden = stats.length === 0;
      const rows = [];
      for (const p of stats) {
        for (const m of p.models) {
          rows.push(h("tr", {}, h("td", { text: p.policy }), h("td", { text: m.model }), h("td", { class: "num", text: pct(m.share) }),
            h("td", { class: "num", text: num(m.requests) }), h("td", { class: "num", text: usd(m.estimated_saving_usd) }),
            h("td", { class: "num", text: m.feedback ? m.feedback_mean.toFixed(2) + " (" + num(m.feedback) + ")" : "—" })));
        }
      }
      box.replaceChildren(h("h3", { text: "Auto routing (this process)" }),
        table(["policy", "model", { label: "share", num: true }, { label: "requests", num: true },
          { label: "estimated saving", num: true }, { label: "feedback score (n)", num: true }], rows, { id: "auto-table" }));
    }
    await load();
    every(5, load);
  };

  pages.models = async function (page) {
    let range = sessionStorage.getItem("unigate.range") || "15m";
    page.append(
      h("div", { class: "toolbar" }, h("h2", { text: "Models & deployments" }),
        rangeSelect("range", (e) => { range = e.target.value; sessionStorage.setItem("unigate.range", range); load().catch(showError); }, RANGES, range)),
      h("div", { class: "grid" }, h("div", { class: "card", id: "chart-share" }), h("div", { class: "card", id: "chart-p95" })),
      h("h3", { text: "Deployments" }), h("div", { class: "card", id: "deployments" }));
    async function load() {
      const data = (await api(`/ui/api/models?range=${range}`)).data;
      C.barChart($("#chart-share"), { title: "Traffic share", rows: data.filter((d) => d.requests).map((d) => ({ label: d.deployment, value: d.share })), format: pct, empty: "no traffic in this range" });
      C.barChart($("#chart-p95"), { title: "Latency p95 (ms)", rows: data.filter((d) => d.p95_ms).map((d) => ({ label: d.deployment, value: d.p95_ms, color: "#9333ea" })), format: ms, empty: "no traffic in this range" });
      const rows = data.map((d) => h("tr", { "data-deployment": d.deployment },
        h("td", {}, d.model), h("td", {}, d.deployment), h("td", {}, d.provider),
        h("td", {}, h("span", { class: "badge " + d.state, text: d.state.replace("_", " ") })),
        h("td", { class: "num" }, num(d.requests)), h("td", { class: "num" }, pct(d.share)),
        h("td", { class: "num" }, d.requests ? pct(d.error_rate) : "—"),
        h("td", { class: "num" }, ms(d.p50_ms)), h("td", { class: "num" }, ms(d.p95_ms)),
        h("td", { class: "num" }, ms(d.ttft_p50_ms)), h("td", { class: "num" }, ms(d.ttft_p95_ms))));
      const box = $("#deployments");
      box.innerHTML = "";
      box.appendChild(table(["model", "deployment", "provider", "state", { label: "requests", num: 1 }, { label: "share", num: 1 },
        { label: "errors", num: 1 }, { label: "p50", num: 1 }, { label: "p95", num: 1 }, { label: "TTFT p50", num: 1 }, { label: "TTFT p95", num: 1 }], rows, { id: "deployments-table" }));
    }
    await load();
    every(5, load);
  };

  pages.batches = async function (page) {
    page.append(h("div", { class: "toolbar" }, h("h2", { text: "Batches" })), h("div", { class: "card", id: "batches" }));
    async function load() {
      const data = (await api("/ui/api/batches")).data;
      const rows = data.map((b) => {
        const counts = b.request_counts;
        const done = counts.completed + counts.failed;
        return h("tr", { "data-batch": b.id },
          h("td", {}, b.id), h("td", {}, b.endpoint), h("td", {}, b.runs_on === "gateway" ? "gateway" : b.runs_on + " Batch API"),
          h("td", {}, h("span", { class: "badge " + b.status, text: b.status })),
          h("td", { class: "num" }, num(done) + " / " + num(counts.total)),
          h("td", { class: "num" }, counts.total ? pct(done / counts.total) : "—"),
          h("td", { class: "num" }, num(counts.failed)),
          h("td", {}, new Date(b.created_at * 1000).toISOString().replace("T", " ").slice(0, 19)));
      });
      const box = $("#batches");
      box.innerHTML = "";
      box.appendChild(data.length
        ? table(["batch", "endpoint", "runs on", "status", { label: "answered", num: 1 }, { label: "progress", num: 1 }, { label: "failed", num: 1 }, "created"], rows, { id: "batches-table" })
        : h("p", { text: "No batches yet (POST /v1/batches)." }));
    }
    await load();
    every(2, load);
  };

  pages.spend = async function (page) {
    if (!state.who.accounts) {
      page.append(h("h2", { text: "Spend" }), h("p", { class: "muted", text: "Spend needs the accounts package (the usage ledger), which is not enabled on this gateway." }));
      return;
    }
    let days = Number(sessionStorage.getItem("unigate.days") || 7);
    page.append(
      h("div", { class: "toolbar" }, h("h2", { text: "Spend" }),
        rangeSelect("days", (e) => { days = Number(e.target.value); sessionStorage.setItem("unigate.days", days); load().catch(showError); },
          [["1", "today and yesterday"], ["7", "last 7 days"], ["30", "last 30 days"], ["90", "last 90 days"]], String(days)),
        h("span", { class: "muted", id: "spend-total" })),
      h("div", { class: "card", id: "chart-days" }),
      h("div", { class: "grid", style: "margin-top:14px" },
        state.who.admin ? h("div", { class: "card", id: "by-key" }) : null,
        state.who.admin ? h("div", { class: "card", id: "by-team" }) : null,
        h("div", { class: "card", id: "by-model" }), h("div", { class: "card", id: "by-provider" })),
      h("h3", { text: "Credit and budgets" }), h("div", { class: "card", id: "balances" }));

    async function load() {
      const since = encodeURIComponent(dayAgo(days));
      const [byDay, byModel, byProvider] = await Promise.all([
        api(`/admin/usage?group_by=day&since=${since}&limit=1000`),
        api(`/admin/usage?group_by=model&since=${since}&limit=1000`),
        api(`/admin/usage?group_by=provider&since=${since}&limit=1000`),
      ]);
      $("#spend-total").textContent = `${usd(byDay.total.cost)} over ${num(byDay.total.requests)} requests`;
      const categories = [];
      for (let d = days; d >= 0; d--) categories.push(new Date(Date.now() - d * 86400000).toISOString().slice(0, 10));
      const top = byModel.data.slice().sort((a, b) => b.cost - a.cost).slice(0, 6);
      const perModel = await Promise.all(top.map((m) => api(`/admin/usage?group_by=day&since=${since}&model=${encodeURIComponent(m.group)}&limit=1000`)));
      const series = top.map((m, i) => ({ name: m.group, values: categories.map((c) => { const row = perModel[i].data.find((r) => r.group === c); return row ? row.cost : 0; }) }));
      const rest = categories.map((c, j) => { const row = byDay.data.find((r) => r.group === c); return Math.max(0, (row ? row.cost : 0) - series.reduce((s, x) => s + x.values[j], 0)); });
      if (rest.some((v) => v > 1e-12)) series.push({ name: "other", color: "#94a3b8", values: rest });
      C.columnChart($("#chart-days"), { title: "Spend per day (UTC) by model", categories: categories, series: series, format: usd });
      const bars = (id, title, data, label) => C.barChart($(id), { title: title, rows: data.map((r) => ({ label: label(r), value: r.cost })), format: usd });
      bars("#by-model", "By model", byModel.data, (r) => r.group || "—");
      bars("#by-provider", "By provider", byProvider.data, (r) => r.group || "—");
      if (state.who.admin) {
        const [byKey, byTeam, keys, teams] = await Promise.all([
          api(`/admin/usage?group_by=key&since=${since}&limit=1000`), api(`/admin/usage?group_by=team&since=${since}&limit=1000`),
          api("/admin/keys?include_revoked=true"), api("/admin/teams")]);
        const keyNames = Object.fromEntries(keys.data.map((k) => [k.id, k.name]));
        const teamNames = Object.fromEntries(teams.data.map((t) => [t.id, t.name]));
        bars("#by-key", "By key", byKey.data, (r) => (r.group ? keyNames[r.group] || r.group : "master / anonymous"));
        bars("#by-team", "By team", byTeam.data, (r) => (r.group ? teamNames[r.group] || r.group : "no team"));
        balances([...teams.data.map((t) => Object.assign({ kind: "team" }, t)), ...keys.data.filter((k) => !k.revoked).map((k) => Object.assign({ kind: "key" }, k))]);
      } else {
        balances([Object.assign({ kind: "key" }, await api("/v1/key/info"))]);
      }
    }
    function balances(rows) {
      const box = $("#balances");
      box.innerHTML = "";
      if (!rows.length) { box.appendChild(h("p", { class: "muted", text: "No active keys or teams." })); return; }
      box.appendChild(table(["", "name", { label: "credit", num: 1 }, { label: "spent", num: 1 }, { label: "remaining credit", num: 1 }, { label: "budget", num: 1 }, "period"],
        rows.map((r) => h("tr", {}, h("td", {}, h("span", { class: "badge", text: r.kind })), h("td", {}, r.name),
          h("td", { class: "num" }, usd(r.credit)), h("td", { class: "num" }, usd(r.spent)),
          h("td", { class: "num" }, r.credit === null || r.credit === undefined ? "unlimited" : usd(r.credit - (r.spent || 0))),
          h("td", { class: "num" }, r.budget === null || r.budget === undefined ? "—" : usd(r.budget)), h("td", {}, r.budget_period || "—")))));
    }
    await load();
  };

  pages.keys = async function (page) {
    if (!state.who.admin) { page.append(h("p", { class: "muted", text: "Keys are managed with the master key." })); return; }
    if (!state.who.accounts) { page.append(h("h2", { text: "Keys" }), h("p", { class: "muted", text: "Virtual keys need the accounts package, which is not enabled on this gateway." })); return; }
    const field = (name, label, attrs) => h("label", {}, label, h("input", Object.assign({ name: name }, attrs || {})));
    const periodSelect = (value) => h("select", { name: "budget_period" }, [["", "—"], ["day", "day"], ["week", "week"], ["month", "month"]].map(([v, l]) => h("option", { value: v, selected: v === (value || "") }, l)));
    const form = h("form", { id: "create-key", class: "card" },
      h("h3", { text: "Create a key", style: "margin-top:0" }),
      h("div", { class: "form-row" },
        field("name", "name", { required: true, class: "wide", placeholder: "my-app" }), field("team_id", "team id", { placeholder: "optional" }),
        field("credit", "credit (USD)", { type: "number", step: "any", min: 0 }), field("budget", "budget (USD)", { type: "number", step: "any", min: 0 }),
        h("label", {}, "per", periodSelect("")), field("rpm", "requests/min", { type: "number", min: 1 }), field("tpm", "tokens/min", { type: "number", min: 1 }),
        field("models", "models (comma-separated)", { class: "wide", placeholder: "all" }),
        h("button", { type: "submit", id: "create-key-button" }, "Create key")),
      h("p", { class: "error", id: "create-error" }));
    page.append(h("h2", { text: "Keys" }), form, h("div", { id: "secret-box" }), h("h3", { text: "All keys" }), h("div", { class: "card", id: "keys" }));

    function values(root, partial) {
      const out = {};
      for (const input of root.querySelectorAll("input, select")) {
        const v = input.value.trim();
        if (v === "") { if (partial && input.dataset.initial) out[input.name] = null; continue; }
        if (["credit", "budget"].includes(input.name)) out[input.name] = Number(v);
        else if (["rpm", "tpm"].includes(input.name)) out[input.name] = parseInt(v, 10);
        else if (input.name === "models") out.models = v.split(",").map((s) => s.trim()).filter(Boolean);
        else out[input.name] = v;
      }
      return out;
    }

    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      $("#create-error").textContent = "";
      try {
        const created = await api("/admin/keys", { method: "POST", body: values(form, false) });
        form.reset();
        const box = $("#secret-box");
        box.innerHTML = "";
        box.appendChild(h("div", { class: "secret", id: "new-secret" },
          h("div", {}, h("b", { text: `Key "${created.name}" created. ` }), "Copy the secret now — it is shown only once."),
          h("code", { id: "new-secret-value", text: created.key }), " ",
          h("button", { class: "secondary", onclick: () => navigator.clipboard && navigator.clipboard.writeText(created.key) }, "Copy"), " ",
          h("button", { class: "secondary", id: "dismiss-secret", onclick: () => { box.innerHTML = ""; } }, "Done")));
        await load();
      } catch (err) { $("#create-error").textContent = err.message; }
    });

    async function load() {
      const keys = (await api("/admin/keys?include_revoked=true")).data;
      const rows = [];
      for (const k of keys) {
        const status = k.revoked ? "revoked" : k.enabled ? "ok" : "disabled";
        const actions = h("td", {});
        if (!k.revoked) {
          actions.append(
            h("button", { class: "secondary", "data-action": "topup", onclick: () => openRow(k, "topup") }, "Top up"), " ",
            h("button", { class: "secondary", "data-action": "edit", onclick: () => openRow(k, "edit") }, "Edit limits"), " ",
            h("button", { class: "danger", "data-action": "revoke", onclick: (e) => revoke(k, e.target) }, "Revoke"));
        }
        rows.push(h("tr", { "data-key": k.id, "data-name": k.name },
          h("td", {}, k.name), h("td", {}, h("code", { text: k.key_prefix })), h("td", {}, k.team_id || "—"),
          h("td", { class: "num" }, usd(k.credit)), h("td", { class: "num" }, usd(k.spent)),
          h("td", { class: "num" }, k.budget === null ? "—" : usd(k.budget) + " / " + (k.budget_period || "total")),
          h("td", { class: "num" }, k.rpm || "—"), h("td", { class: "num" }, k.tpm || "—"), h("td", {}, k.models ? k.models.join(", ") : "all"),
          h("td", {}, h("span", { class: "badge " + status, text: status })), actions));
        rows.push(h("tr", { class: "editing", id: "edit-" + k.id, hidden: true }, h("td", { colspan: 11 })));
      }
      const box = $("#keys");
      box.innerHTML = "";
      box.appendChild(table(["name", "key", "team", { label: "credit", num: 1 }, { label: "spent", num: 1 }, { label: "budget", num: 1 },
        { label: "rpm", num: 1 }, { label: "tpm", num: 1 }, "models", "status", ""], rows, { id: "keys-table" }));
    }

    function openRow(k, mode) {
      const row = $("#edit-" + k.id);
      const cell = row.firstChild;
      cell.innerHTML = "";
      row.hidden = false;
      const error = h("span", { class: "error" });
      if (mode === "topup") {
        const amount = h("input", { name: "amount", type: "number", step: "any", min: 0, placeholder: "USD" });
        cell.append(h("div", { class: "form-row" }, h("label", {}, `top up ${k.name} by (USD)`, amount),
          h("button", { "data-action": "topup-save", onclick: async () => {
            try { await api(`/admin/keys/${k.id}/topup`, { method: "POST", body: { amount: Number(amount.value) } }); await load(); } catch (err) { error.textContent = err.message; }
          } }, "Add credit"), h("button", { class: "secondary", onclick: () => { row.hidden = true; } }, "Cancel"), error));
      } else {
        const input = (name, label, value, attrs) => h("label", {}, label, h("input", Object.assign({ name: name, value: value === null || value === undefined ? "" : value, "data-initial": value === null || value === undefined ? "" : "1" }, attrs || {})));
        const editor = h("div", { class: "form-row" },
          input("rpm", "requests/min", k.rpm, { type: "number", min: 1 }), input("tpm", "tokens/min", k.tpm, { type: "number", min: 1 }),
          input("budget", "budget (USD)", k.budget, { type: "number", step: "any", min: 0 }), h("label", {}, "per", periodSelect(k.budget_period)),
          input("models", "models", k.models ? k.models.join(", ") : "", { class: "wide" }));
        editor.append(h("button", { "data-action": "edit-save", onclick: async () => {
          try { await api(`/admin/keys/${k.id}`, { method: "PATCH", body: values(editor, true) }); await load(); } catch (err) { error.textContent = err.message; }
        } }, "Save"), h("button", { class: "secondary", onclick: () => { row.hidden = true; } }, "Cancel"), error);
        cell.append(editor);
      }
    }

    async function revoke(k, button) {
      if (button.dataset.armed !== "1") {
        button.dataset.armed = "1";
        button.textContent = "Confirm revoke";
        setTimeout(() => { if (button.isConnected) { button.dataset.armed = ""; button.textContent = "Revoke"; } }, 4000);
        return;
      }
      try { await api(`/admin/keys/${k.id}`, { method: "DELETE" }); await load(); } catch (err) { showError(err); }
    }
    await load();
  };

  async function modelList() {
    if (!state.models) state.models = (await api("/v1/models")).data;
    return state.models;
  }

  pages.catalog = async function (page) {
    const models = await modelList();
    const inTok = h("input", { id: "calc-in", type: "number", min: 0, value: 1000 });
    const outTok = h("input", { id: "calc-out", type: "number", min: 0, value: 300 });
    const perDay = h("input", { id: "calc-rpd", type: "number", min: 0, value: 1000 });
    const filter = h("input", { id: "catalog-filter", placeholder: "filter models", class: "wide" });
    page.append(h("h2", { text: "Catalog" }),
      h("div", { class: "card" }, h("div", { class: "form-row" },
        h("label", {}, "input tokens / request", inTok), h("label", {}, "output tokens / request", outTok),
        h("label", {}, "requests / day", perDay), h("label", {}, "filter", filter))),
      h("div", { class: "card", id: "catalog", style: "margin-top:14px" }));
    function render() {
      const i = Number(inTok.value) || 0, o = Number(outTok.value) || 0, n = Number(perDay.value) || 0, f = filter.value.toLowerCase();
      const rows = models.filter((m) => m.id.toLowerCase().includes(f)).map((m) => {
        const p = m.pricing;
        const cost = p ? (i * p.input_per_mtok + o * p.output_per_mtok) / 1e6 : null;
        return { m: m, cost: cost };
      }).sort((a, b) => (a.cost === null) - (b.cost === null) || (a.cost || 0) - (b.cost || 0) || a.m.id.localeCompare(b.m.id));
      const caps = (m) => Object.entries(m.capabilities || {}).filter(([, v]) => v).map(([k]) => k).join(", ");
      const box = $("#catalog");
      box.innerHTML = "";
      box.appendChild(table(["model", "provider", { label: "context", num: 1 }, { label: "max output", num: 1 }, { label: "input $/M", num: 1 },
        { label: "output $/M", num: 1 }, "capabilities", { label: "$ / request", num: 1 }, { label: "$ / day", num: 1 }, { label: "$ / 30 days", num: 1 }],
      rows.map(({ m, cost }) => h("tr", { "data-model": m.id },
        h("td", {}, m.id, m.local ? h("span", { class: "badge ok", style: "margin-left:6px", text: "local" }) : null), h("td", {}, (m.providers || [m.owned_by]).join(", ")),
        h("td", { class: "num" }, num(m.context_window)), h("td", { class: "num" }, num(m.max_output_tokens)),
        h("td", { class: "num" }, m.pricing ? "$" + m.pricing.input_per_mtok : "—"), h("td", { class: "num" }, m.pricing ? "$" + m.pricing.output_per_mtok : "—"),
        h("td", {}, caps(m)), h("td", { class: "num cost" }, usd(cost)), h("td", { class: "num" }, usd(cost === null ? null : cost * n)),
        h("td", { class: "num" }, usd(cost === null ? null : cost * n * 30)))), { id: "catalog-table" }));
    }
    for (const input of [inTok, outTok, perDay, filter]) input.addEventListener("input", render);
    render();
  };

  pages.playground = async function (page) {
    const models = (await modelList()).map((m) => m.id);
    const system = h("textarea", { id: "pg-system", rows: 2, placeholder: "System prompt (optional)" });
    const prompt = h("textarea", { id: "pg-prompt", rows: 4, placeholder: "Your prompt" });
    const maxTokens = h("input", { id: "pg-max-tokens", type: "number", min: 1, value: 256 });
    const temperature = h("input", { id: "pg-temperature", type: "number", min: 0, max: 2, step: 0.1, value: 0.7 });
    const lanes = h("div", { class: "lanes", id: "lanes" });
    const addButton = h("button", { class: "secondary", id: "pg-add", onclick: () => addLane() }, "+ Add model");
    const runButton = h("button", { id: "pg-run", onclick: () => run() }, "Run");
    const stopButton = h("button", { class: "danger", id: "pg-stop", disabled: true, onclick: () => stop() }, "Stop");
    page.append(h("h2", { text: "Playground" }),
      h("div", { class: "card" }, system, h("div", { style: "height:8px" }), prompt,
        h("div", { class: "form-row", style: "margin-top:8px" }, h("label", {}, "max tokens", maxTokens), h("label", {}, "temperature", temperature), addButton, runButton, stopButton)),
      lanes);

    function addLane(initial) {
      if (lanes.children.length >= 4) return;
      const select = h("select", { class: "pg-model" }, models.map((m) => h("option", { value: m, selected: m === initial }, m)));
      const lane = h("div", { class: "card lane" },
        h("div", { class: "head" }, select, h("button", { class: "link", style: "color:#64748b", title: "remove", onclick: () => { lane.remove(); addButton.disabled = false; } }, "✕")),
        h("div", { class: "answer" }), h("div", { class: "metrics" }));
      lanes.appendChild(lane);
      addButton.disabled = lanes.children.length >= 4;
    }
    addLane(models[0]);
    if (models.length > 1) addLane(models[1]);

    function stop() {
      for (const a of state.aborts) a.abort();
      state.aborts = [];
    }

    async function stream(lane) {
      const model = $(".pg-model", lane).value;
      const answer = $(".answer", lane), metrics = $(".metrics", lane);
      answer.textContent = "";
      metrics.textContent = "waiting…";
      lane.dataset.state = "running";
      const messages = [];
      if (system.value.trim()) messages.push({ role: "system", content: system.value });
      messages.push({ role: "user", content: prompt.value });
      const controller = new AbortController();
      state.aborts.push(controller);
      const started = performance.now();
      let ttft = null, usage = null;
      try {
        const reply = await fetch("/v1/chat/completions", {
          method: "POST", signal: controller.signal,
          headers: { authorization: "Bearer " + state.key, "content-type": "application/json" },
          body: JSON.stringify({ model: model, messages: messages, stream: true, stream_options: { include_usage: true }, max_tokens: Number(maxTokens.value) || undefined, temperature: Number(temperature.value) }),
        });
        if (!reply.ok) {
          const body = await reply.json().catch(() => null);
          throw new Error(body && body.error ? body.error.message : `HTTP ${reply.status}`);
        }
        const reader = reply.body.getReader();
        const decoder = new TextDecoder();
        let buffer = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += decoder.decode(value, { stream: true });
          let cut;
          while ((cut = buffer.indexOf("\n\n")) >= 0) {
            const event = buffer.slice(0, cut);
            buffer = buffer.slice(cut + 2);
            for (const line of event.split("\n")) {
              if (!line.startsWith("data:")) continue;
              const data = line.slice(5).trim();
              if (data === "[DONE]") continue;
              const chunk = JSON.parse(data);
              if (chunk.error) throw new Error(chunk.error.message || "stream error");
              for (const choice of chunk.choices || []) {
                const text = choice.delta && choice.delta.content;
                if (text) {
                  if (ttft === null) ttft = performance.now() - started;
                  answer.textContent += text;
                }
              }
              if (chunk.usage) usage = chunk.usage;
              metrics.textContent = `TTFT ${ms(ttft)} · streaming…`;
            }
          }
        }
        const latency = performance.now() - started;
        const toks = usage ? usage.completion_tokens : null;
        const speed = toks && latency - (ttft || 0) > 50 ? (toks / ((latency - (ttft || 0)) / 1000)).toFixed(1) + " tok/s" : "";
        metrics.textContent = `TTFT ${ms(ttft)} · latency ${ms(latency)} · ${usage ? usage.prompt_tokens + " in / " + toks + " out tokens" : "no usage"} · ${usd(usage ? usage.cost : null)}${speed ? " · " + speed : ""}`;
        Object.assign(lane.dataset, { state: "done", ttft: ttft === null ? "" : String(Math.round(ttft)), latency: String(Math.round(latency)), tokens: toks === null ? "" : String(toks), cost: usage && usage.cost !== undefined ? String(usage.cost) : "" });
      } catch (err) {
        lane.dataset.state = "error";
        metrics.textContent = err.name === "AbortError" ? "stopped" : "error: " + err.message;
      }
    }

    async function run() {
      if (!prompt.value.trim()) { prompt.focus(); return; }
      runButton.disabled = true;
      stopButton.disabled = false;
      try { await Promise.all(Array.from(lanes.children).map(stream)); }
      finally { runButton.disabled = false; stopButton.disabled = true; state.aborts = []; }
    }
  };

  // ---------------------------------------------------------------------------------------
  // routing

  async function route() {
    clearTimer();
    if (!state.who) return;
    const home = state.who.user && !state.who.admin ? "mykeys" : "overview";
    let name = (location.hash.replace(/^#\//, "") || home).split("?")[0];
    if (!allowed(name)) name = home;
    for (const link of document.querySelectorAll("#nav a")) link.classList.toggle("active", link.dataset.page === name);
    const page = $("#page");
    page.innerHTML = "";
    page.dataset.page = name;
    try { await pages[name](page); page.dataset.ready = name; } catch (err) { showError(err); }
  }
  window.addEventListener("hashchange", route);

  window.UGApp = { h, $, api, pages, state, usd, num, table, stat, showError, every, enter, signIn, signOut, route };
  if (window.UGPortal) window.UGPortal.start();
  // A gateway without a master key lets anyone on loopback in: try that before asking for a key.
  else signIn(state.key).catch(() => signOut(""));
})();
