/* Self-service in the dashboard: sign up / sign in with an account, and the pages a signed-in
   person sees by role — my keys, my usage, credits, models & prices; team (team admins); users
   and audit (admins). No build step. Loaded before app.js, which calls UGPortal.start(). */
(function () {
  "use strict";
  let csrf = null;  // the pre-session CSRF token, until a sign-in gives the session's
  let enabled = false;
  const forms = ["account-signin", "account-signup", "account-forgot", "account-reset"];
  const el = (id) => document.getElementById(id);

  async function post(path, body) {
    const reply = await fetch(path, { method: "POST", headers: { "content-type": "application/json", "x-csrf-token": csrf || "" }, body: JSON.stringify(body) });
    const data = await reply.json().catch(() => null);
    if (!reply.ok) throw new Error(data && data.error ? data.error.message : `HTTP ${reply.status}`);
    return data;
  }

  function hashParams() {
    const query = location.hash.split("?")[1] || "";
    return new URLSearchParams(query);
  }

  function notice(text) {
    el("account-notice").hidden = !text;
    el("account-notice").textContent = text || "";
  }

  // which account form the hash asks for (only while signed out)
  function showForm() {
    if (!enabled || (window.UGApp && window.UGApp.state.who)) return;
    const name = (location.hash.replace(/^#\//, "").split("?")[0]) || "signin";
    const params = hashParams();
    const shown = { signup: "account-signup", forgot: "account-forgot", reset: "account-reset" }[name] || "account-signin";
    for (const id of forms) el(id).hidden = id !== shown;
    el("account-error").textContent = "";
    if (name === "signup") {
      if (params.get("invite")) el("signup-invite").value = params.get("invite");
      if (params.get("email")) el("signup-email").value = params.get("email");
    }
    if (params.get("verified") === "1") notice("Your email address is confirmed. Sign in.");
    else if (params.get("verified") === "0") notice("That confirmation link is not valid any more.");
    else if (params.get("error")) notice("Single sign-on failed: " + params.get("error"));
    else if (params.get("reset") === "1") notice("Password changed. Sign in with the new one.");
    else if (name !== "signin" || !el("account-notice").dataset.keep) notice("");
    el("account-notice").dataset.keep = "";
  }

  async function refresh() {
    const reply = await fetch("/auth/session", { headers: { accept: "application/json" } });
    if (!reply.ok) return null;
    const info = await reply.json();
    return info.enabled ? info : null;
  }

  function signedIn(info) {
    const app = window.UGApp;
    app.state.key = "";
    app.state.csrf = info.csrf_token;
    app.state.models = null;
    app.state.who = {
      kind: info.admin ? "master" : "user",
      admin: info.admin,
      team_admin: info.team_admin,
      role: info.role,
      user: info.user,
      team: info.team,
      accounts: true,
      payments: info.payments,
    };
    app.enter();
  }

  async function signInWith(email, password) {
    const done = await post("/auth/login", { email: email, password: password });
    csrf = done.csrf_token;
    const info = await refresh();
    signedIn(info);
    if (/^#\/(signin|signup|forgot|reset)/.test(location.hash)) location.hash = "#/mykeys";
  }

  function wire() {
    el("account-signin").addEventListener("submit", (e) => {
      e.preventDefault();
      el("account-error").textContent = "";
      signInWith(el("account-email").value.trim(), el("account-password").value).catch((err) => { el("account-error").textContent = err.message; });
    });
    el("account-signup").addEventListener("submit", async (e) => {
      e.preventDefault();
      el("account-error").textContent = "";
      const email = el("signup-email").value.trim(), password = el("signup-password").value;
      try {
        const body = { email: email, password: password };
        if (el("signup-name").value.trim()) body.name = el("signup-name").value.trim();
        if (el("signup-invite").value) body.invite = el("signup-invite").value;
        const made = await post("/auth/register", body);
        if (made.verification_required) {
          el("account-notice").dataset.keep = "1";
          location.hash = "#/signin";
          notice(`We sent a confirmation link to ${email}. Open it, then sign in.`);
          el("account-email").value = email;
        } else {
          await signInWith(email, password);
        }
      } catch (err) { el("account-error").textContent = err.message; }
    });
    el("account-forgot").addEventListener("submit", async (e) => {
      e.preventDefault();
      try {
        await post("/auth/password/forgot", { email: el("forgot-email").value.trim() });
        el("account-notice").dataset.keep = "1";
        location.hash = "#/signin";
        notice("If that address has an account, a reset link is on its way.");
      } catch (err) { el("account-error").textContent = err.message; }
    });
    el("account-reset").addEventListener("submit", async (e) => {
      e.preventDefault();
      try {
        await post("/auth/password/reset", { token: hashParams().get("token") || "", password: el("reset-password").value });
        location.hash = "#/signin?reset=1";
      } catch (err) { el("account-error").textContent = err.message; }
    });
    window.addEventListener("hashchange", showForm);
  }

  window.UGPortal = {
    async start() {
      const app = window.UGApp;
      registerPages();
      let info = null;
      try { info = await refresh(); } catch (e) { info = null; }
      if (!info) {  // no self-service on this gateway: the API-key sign-in only
        app.signIn(app.state.key).catch(() => app.signOut(""));
        return;
      }
      enabled = true;
      el("account-auth").hidden = false;
      el("signin").classList.add("with-accounts");
      if (info.oidc) { el("sso-button").hidden = false; el("sso-button").textContent = info.oidc; }
      if (info.registration === "off") el("to-signup").hidden = true;
      if (!info.password_reset) el("to-forgot").hidden = true;
      wire();
      if (info.signed_in) { signedIn(info); return; }
      csrf = info.csrf_token;
      if (app.state.key) app.signIn(app.state.key).catch(() => app.signOut(""));
      else app.signOut("");
    },
    signedOut() {
      if (!enabled) return;
      refresh().then((info) => { if (info) csrf = info.csrf_token; showForm(); }).catch(() => null);
    },
  };

  // ---------------------------------------------------------------------------------------
  // pages (registered by start(), once app.js has run)

  function registerPages() {
    const app = window.UGApp;
    const { h, $, api, pages, usd, num, table, stat, showError } = app;
    const user = (who) => Boolean(who.user);
    const dayAgo = (days) => { const d = new Date(Date.now() - days * 86400000); d.setUTCHours(0, 0, 0, 0); return d.toISOString(); };

    pages.mykeys = async function (page) {
      const name = h("input", { id: "mykey-name", name: "name", required: true, placeholder: "my-laptop", class: "wide" });
      const models = h("input", { id: "mykey-models", name: "models", placeholder: "all my team allows", class: "wide" });
      const form = h("form", { id: "create-mykey", class: "card" },
        h("h3", { text: "Create a key", style: "margin-top:0" }),
        h("div", { class: "form-row" }, h("label", {}, "name", name), h("label", {}, "models (comma-separated, optional)", models),
          h("button", { type: "submit", id: "create-mykey-button" }, "Create key")),
        h("p", { class: "error", id: "mykey-error" }));
      page.append(h("h2", { text: "My keys" }), form, h("div", { id: "mykey-secret" }), h("div", { class: "card", id: "mykeys" }));
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        $("#mykey-error").textContent = "";
        const body = { name: name.value.trim() };
        const list = models.value.split(",").map((s) => s.trim()).filter(Boolean);
        if (list.length) body.models = list;
        try {
          const made = await api("/portal/api/keys", { method: "POST", body: body });
          form.reset();
          const box = $("#mykey-secret");
          box.innerHTML = "";
          box.append(h("div", { class: "secret", id: "new-secret" },
            h("div", {}, h("b", { text: `Key "${made.name}" created. ` }), "Copy the secret now — it is shown only once."),
            h("code", { id: "new-secret-value", text: made.key }), " ",
            h("button", { class: "secondary", onclick: () => navigator.clipboard && navigator.clipboard.writeText(made.key) }, "Copy"), " ",
            h("button", { class: "secondary", id: "dismiss-secret", onclick: () => { box.innerHTML = ""; } }, "Done")));
          await load();
        } catch (err) { $("#mykey-error").textContent = err.message; }
      });
      async function load() {
        const keys = (await api("/portal/api/keys")).data;
        const rows = keys.map((k) => h("tr", { "data-key": k.id, "data-name": k.name },
          h("td", {}, k.name), h("td", {}, h("code", { text: k.key_prefix })), h("td", {}, k.models ? k.models.join(", ") : "all"),
          h("td", { class: "num" }, usd(k.spent)), h("td", {}, k.created_at ? k.created_at.slice(0, 10) : "—"),
          h("td", {}, h("span", { class: "badge " + (k.revoked ? "revoked" : "ok"), text: k.revoked ? "revoked" : "active" })),
          h("td", {}, k.revoked ? "" : h("button", { class: "danger", "data-action": "revoke", onclick: async (e) => {
            const b = e.target;
            if (b.dataset.armed !== "1") { b.dataset.armed = "1"; b.textContent = "Confirm revoke"; return; }
            try { await api(`/portal/api/keys/${k.id}`, { method: "DELETE" }); await load(); } catch (err) { showError(err); }
          } }, "Revoke"))));
        const box = $("#mykeys");
        box.innerHTML = "";
        box.append(keys.length ? table(["name", "key", "models", { label: "spent", num: 1 }, "created", "status", ""], rows, { id: "mykeys-table" })
          : h("p", { class: "muted", text: "No keys yet. Create one above, then call the API with it." }));
      }
      await load();
    };
    pages.mykeys.allowed = user;

    pages.usage = async function (page) {
      const who = app.state.who;
      let days = 7, scope = "me";
      const scopes = [["me", "my keys"]];
      if (who.team_admin || (who.admin && who.team)) scopes.push(["team", "my team"]);
      if (who.admin) scopes.push(["all", "everyone"]);
      const select = (id, values, initial, onchange) => h("select", { id: id, onchange: onchange }, values.map(([v, l]) => h("option", { value: v, selected: v === initial }, l)));
      page.append(
        h("div", { class: "toolbar" }, h("h2", { text: "My usage" }),
          select("usage-days", [["1", "today and yesterday"], ["7", "last 7 days"], ["30", "last 30 days"]], "7", (e) => { days = Number(e.target.value); load().catch(showError); }),
          scopes.length > 1 ? select("usage-scope", scopes, "me", (e) => { scope = e.target.value; load().catch(showError); }) : null),
        h("div", { class: "stats" }, stat("Requests", "usage-requests"), stat("Spend", "usage-spend"), stat("Tokens in", "usage-in"), stat("Tokens out", "usage-out")),
        h("div", { class: "grid" }, h("div", { class: "card" }, h("h3", { text: "By model", style: "margin-top:0" }), h("div", { id: "usage-by-model" })),
          h("div", { class: "card" }, h("h3", { text: "By day (UTC)", style: "margin-top:0" }), h("div", { id: "usage-by-day" }))),
        h("h3", { text: "Recent requests" }), h("div", { class: "card", id: "usage-rows" }));
      async function load() {
        const q = `since=${encodeURIComponent(dayAgo(days))}&scope=${scope}`;
        const [byModel, byDay, rows] = await Promise.all([
          api(`/portal/api/usage?group_by=model&${q}`), api(`/portal/api/usage?group_by=day&${q}`), api(`/portal/api/usage?limit=50&${q}`)]);
        $("#usage-requests").textContent = num(byModel.total.requests);
        $("#usage-spend").textContent = usd(byModel.total.cost);
        $("#usage-in").textContent = num(byModel.total.input_tokens);
        $("#usage-out").textContent = num(byModel.total.output_tokens);
        const grouped = (id, data, label) => {
          const box = $(id);
          box.innerHTML = "";
          box.append(table([label, { label: "requests", num: 1 }, { label: "tokens in", num: 1 }, { label: "tokens out", num: 1 }, { label: "spend", num: 1 }],
            data.map((r) => h("tr", { "data-group": r.group }, h("td", {}, r.group || "—"), h("td", { class: "num" }, num(r.requests)),
              h("td", { class: "num" }, num(r.input_tokens)), h("td", { class: "num" }, num(r.output_tokens)), h("td", { class: "num" }, usd(r.cost))))));
        };
        grouped("#usage-by-model", byModel.data, "model");
        grouped("#usage-by-day", byDay.data, "day");
        const box = $("#usage-rows");
        box.innerHTML = "";
        box.append(rows.data.length ? table(["time (UTC)", "model", "status", { label: "tokens in", num: 1 }, { label: "tokens out", num: 1 }, { label: "cost", num: 1 }],
          rows.data.map((r) => h("tr", { "data-request": r.request_id }, h("td", {}, new Date(r.ts * 1000).toISOString().slice(0, 19).replace("T", " ")),
            h("td", {}, r.model), h("td", {}, r.status), h("td", { class: "num" }, num(r.input_tokens)), h("td", { class: "num" }, num(r.output_tokens)),
            h("td", { class: "num" }, usd(r.cost)))), { id: "usage-table" }) : h("p", { class: "muted", text: "No requests in this range." }));
      }
      await load();
      app.every(10, load);
    };
    pages.usage.allowed = user;

    pages.credits = async function (page) {
      const who = app.state.who;
      const amount = h("input", { id: "topup-amount", type: "number", min: 1, step: "any", value: 10 });
      page.append(h("h2", { text: "Credits" }),
        h("div", { class: "stats" }, stat("Remaining", "wallet-remaining"), stat("Credited", "wallet-total"), stat("Spent", "wallet-spent")),
        h("p", { class: "muted", id: "wallet-note" }),
        who.payments ? h("form", { class: "card", id: "topup-form" }, h("div", { class: "form-row" },
          h("label", {}, "top up (USD)", amount), h("button", { type: "submit", id: "topup-button" }, "Top up")), h("p", { class: "error", id: "topup-error" })) : null,
        h("h3", { text: "History" }), h("div", { class: "card", id: "credit-history" }));
      if (who.payments) {
        $("#topup-form").addEventListener("submit", async (e) => {
          e.preventDefault();
          try {
            const checkout = await api("/portal/api/checkout", { method: "POST", body: { amount: Number(amount.value) } });
            location.href = checkout.url;  // the payment provider's hosted page; it sends the browser back here
          } catch (err) { $("#topup-error").textContent = err.message; }
        });
      }
      const data = await api("/portal/api/credits");
      const credit = data.wallet.credit;
      $("#wallet-remaining").textContent = credit ? usd(credit.remaining) : "unlimited";
      $("#wallet-total").textContent = credit ? usd(credit.total) : "—";
      $("#wallet-spent").textContent = credit ? usd(credit.spent) : "—";
      const notes = [];
      if (data.wallet.markup) notes.push(`Prices and amounts include a ${(data.wallet.markup * 100).toFixed(0)}% service markup.`);
      if (data.wallet.budget) notes.push(`Your team gives you ${usd(data.wallet.budget.limit)} per ${data.wallet.budget.period}; ${usd(data.wallet.budget.remaining)} left.`);
      if (hashParams().get("paid")) notes.push("Thank you — your payment is credited as soon as the provider confirms it.");
      $("#wallet-note").textContent = notes.join(" ");
      const box = $("#credit-history");
      box.innerHTML = "";
      box.append(data.history.length ? table(["time (UTC)", "kind", { label: "credit", num: 1 }, { label: "paid", num: 1 }, "note"],
        data.history.map((r) => h("tr", { "data-kind": r.kind }, h("td", {}, r.ts.slice(0, 19).replace("T", " ")), h("td", {}, r.kind),
          h("td", { class: "num" }, usd(r.amount)), h("td", { class: "num" }, r.paid === null ? "—" : `${r.paid.toFixed(2)} ${(r.currency || "").toUpperCase()}`),
          h("td", {}, r.note || ""))), { id: "credit-table" }) : h("p", { class: "muted", text: "No credit yet." }));
    };
    pages.credits.allowed = user;

    pages.prices = async function (page) {
      const data = await api("/portal/api/models");
      page.append(h("h2", { text: "Models & prices" }),
        h("p", { class: "muted", text: "The models your keys may use, in USD per million tokens" + (data.markup ? ` (including a ${(data.markup * 100).toFixed(0)}% markup).` : ".") }),
        h("div", { class: "card" }, table(["model", { label: "input $/M", num: 1 }, { label: "output $/M", num: 1 }, { label: "context", num: 1 }],
          data.data.map((m) => h("tr", { "data-model": m.id }, h("td", {}, m.id), h("td", { class: "num" }, m.pricing ? "$" + m.pricing.input_per_mtok : "—"),
            h("td", { class: "num" }, m.pricing ? "$" + m.pricing.output_per_mtok : "—"), h("td", { class: "num" }, num(m.context_window)))), { id: "prices-table" })));
    };
    pages.prices.allowed = user;

    pages.team = async function (page) {
      const team = await api("/portal/api/team");
      const email = h("input", { id: "invite-email", type: "email", placeholder: "colleague@example.com", class: "wide" });
      page.append(h("h2", { text: `Team ${team.name}` }),
        h("p", { class: "muted", text: `Budget: ${team.budget === null ? "none" : usd(team.budget) + " per " + team.budget_period}; models: ${team.models ? team.models.join(", ") : "all"}.` }),
        h("div", { class: "card", id: "team-members" }),
        h("form", { class: "card", id: "invite-form", style: "margin-top:14px" }, h("div", { class: "form-row" }, h("label", {}, "invite by email", email),
          h("button", { type: "submit", id: "invite-button" }, "Invite")), h("p", { class: "muted", id: "invite-result" })));
      $("#invite-form").addEventListener("submit", async (e) => {
        e.preventDefault();
        try {
          const made = await api("/portal/api/invites", { method: "POST", body: { email: email.value.trim() } });
          $("#invite-result").textContent = made.mailed ? `Invitation mailed to ${made.email}.` : `Send ${made.email} this link: ${made.link}`;
        } catch (err) { $("#invite-result").textContent = err.message; }
      });
      const rows = team.members.map((m) => {
        const budget = h("input", { type: "number", min: 0, step: "any", value: m.budget === null ? "" : m.budget, "aria-label": "budget" });
        const error = h("span", { class: "error" });
        return h("tr", { "data-user": m.id }, h("td", {}, m.email), h("td", {}, m.team_role), h("td", { class: "num" }, usd(m.spent)),
          h("td", {}, budget, " ", h("button", { class: "secondary", onclick: async () => {
            try {
              const v = budget.value.trim();
              await api(`/portal/api/users/${m.id}`, { method: "PATCH", body: v === "" ? { budget: null } : { budget: Number(v), budget_period: team.budget_period || "month" } });
              error.textContent = "saved";
            } catch (err) { error.textContent = err.message; }
          } }, "Set"), " ", error));
      });
      $("#team-members").append(table(["member", "role", { label: "spent this period", num: 1 }, "budget share (USD)"], rows, { id: "team-table" }));
    };
    pages.team.allowed = (who) => Boolean(who.user && who.team && (who.team_admin || who.admin));

    pages.users = async function (page) {
      const users = (await api("/portal/api/users")).data;
      page.append(h("h2", { text: "Users" }), h("div", { class: "card", id: "users" }));
      const rows = users.map((u) => {
        const role = h("select", { "aria-label": "role" }, ["member", "admin"].map((r) => h("option", { value: r, selected: r === u.role }, r)));
        const credit = h("input", { type: "number", min: 0, step: "any", placeholder: "USD", "aria-label": "grant credit" });
        const status = h("span", { class: "muted" });
        role.addEventListener("change", async () => {
          try { await api(`/portal/api/users/${u.id}`, { method: "PATCH", body: { role: role.value } }); status.textContent = "saved"; } catch (err) { status.textContent = err.message; }
        });
        return h("tr", { "data-user": u.id }, h("td", {}, u.email), h("td", {}, role), h("td", {}, u.team_id || "—"), h("td", {}, u.team_role),
          h("td", {}, u.email_verified ? "yes" : "no"), h("td", {}, u.sso ? "SSO" : "password"),
          h("td", {}, credit, " ", h("button", { class: "secondary", "data-action": "grant", onclick: async () => {
            try { await api(`/portal/api/users/${u.id}/credit`, { method: "POST", body: { amount: Number(credit.value) } }); status.textContent = "credited"; credit.value = ""; } catch (err) { status.textContent = err.message; }
          } }, "Grant"), " ", status));
      });
      $("#users").append(table(["email", "role", "team", "team role", "verified", "sign-in", "credit"], rows, { id: "users-table" }));
    };
    pages.users.allowed = (who) => who.admin;

    pages.audit = async function (page) {
      const entries = (await api("/portal/api/audit?limit=500")).data;
      page.append(h("h2", { text: "Audit log" }), h("div", { class: "card" }, table(["time (UTC)", "actor", "action", "target", "detail", "from"],
        entries.map((e) => h("tr", { "data-action": e.action, class: e.ok ? "" : "failed" }, h("td", {}, e.ts.slice(0, 19).replace("T", " ")),
          h("td", {}, e.actor_email || e.actor), h("td", {}, e.action), h("td", {}, e.target || ""),
          h("td", {}, h("code", { text: e.detail ? JSON.stringify(e.detail) : "" })), h("td", {}, e.ip || ""))), { id: "audit-table" })));
    };
    pages.audit.allowed = (who) => who.admin;
  }
})();
