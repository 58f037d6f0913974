// Every few seconds: fetch the JSON API the page was rendered from, and put each number in
// its place (elements with data-k). When the set of rows changed (a new provider, a new stuck
// group), the page is loaded again instead. Same formatting as the server's `num` filter.
(function () {
  "use strict";
  var every = {{ refresh_seconds }} * 1000;
  var windows = {{ windows | tojson }};
  var first = windows[0];
  function num(v) { return v === null || v === undefined ? "-" : String(v); }
  function when(iso) {
    if (!iso) { return "-"; }
    return iso.replace("T", " ").replace(/\.\d+/, "").replace(/(Z|\+00:00)$/, "") + " UTC";
  }
  function get(url) {
    return fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (r) {
        if (r.status === 401) { window.location.assign("/ops/login?next=/ops"); throw new Error("signed out"); }
        if (!r.ok) { throw new Error(url + ": " + r.status); }
        return r.json();
      });
  }
  function flatten(health, inbox, stuck) {
    var out = {rows: {}, values: {as_of: when(health.as_of)}};
    health.providers.forEach(function (p) {
      var k = "h|" + p.provider;
      out.rows[k] = true;
      out.values[k + "|" + p.window + "|state"] = p.state;
      if (p.window !== first) { return; }
      var f = p.figures;
      ["sent", "callbacks_per_sent", "failure_share", "orphans", "quarantined",
       "verification_failures", "median_to_final_seconds", "p95_to_final_seconds", "open_late"]
        .forEach(function (name) { out.values[k + "|" + name] = num(f[name]); });
      out.values[k + "|usual_callbacks_per_sent"] = num(p.usual ? p.usual.callbacks_per_sent : null);
      out.values[k + "|reason"] = p.reason;
    });
    inbox.counts.forEach(function (c) {
      var k = "i|" + c.provider + "|" + c.state;
      out.rows[k] = true;
      out.values[k] = num(c.count);
    });
    if (stuck) {
      out.values["s|total"] = num(stuck.total);
      stuck.by_age.forEach(function (b) { out.values["s|age|" + b.age] = num(b.count); });
      stuck.groups.forEach(function (g) {
        var k = "s|" + g.provider + "|" + g.channel;
        out.rows[k] = true;
        out.values[k + "|count"] = num(g.count);
        out.values[k + "|threshold"] = g.threshold;
        out.values[k + "|why"] = g.why;
        out.values[k + "|oldest"] = when(g.oldest);
      });
    }
    return out;
  }
  function sameRows(flat) {
    var shown = {};
    document.querySelectorAll("[data-row]").forEach(function (el) { shown[el.getAttribute("data-row")] = true; });
    var a = Object.keys(shown).sort().join("\n"), b = Object.keys(flat.rows).sort().join("\n");
    return a === b;
  }
  function apply(flat) {
    document.querySelectorAll("[data-k]").forEach(function (el) {
      var k = el.getAttribute("data-k");
      if (!(k in flat.values)) { return; }
      el.textContent = flat.values[k];
      if (/\|state$/.test(k)) { el.className = "state state-" + flat.values[k]; }
    });
  }
  function refresh() {
    var asks = [get("/v1/providers/health"), get("/v1/inbox?limit=20"), get("/v1/stuck?limit=20")];
    return Promise.all(asks).then(function (answers) {
      var flat = flatten(answers[0], answers[1], answers[2]);
      if (!sameRows(flat)) { window.location.reload(); return; }
      apply(flat);
      document.body.setAttribute("data-refreshed", String(Date.now()));
      document.getElementById("refresh-state").textContent = " · refreshed " + new Date().toLocaleTimeString();
    }).catch(function (err) {
      document.getElementById("refresh-state").textContent = " · refresh failed: " + err.message;
    });
  }
  window.dlreconRefresh = refresh;
  setInterval(refresh, every);
})();
