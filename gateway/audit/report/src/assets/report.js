// jurisgate audit report: the rows table. Reads the sampled records from
// #rows-data, filters them by the link that was followed (#f/key=value&…),
// and pages through them. Everything else in the report is static.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("rows-data").textContent);
  var S = data.s, cols = data.cols, nums = { log: 1, seq: 1, b: 1 };
  var rows = data.r.map(function (r) {
    var o = {};
    for (var i = 0; i < cols.length; i++) o[cols[i]] = nums[cols[i]] ? r[i] : S[r[i]];
    return o;
  });
  var PAGE = 50, page = 0, matching = rows;
  var table = document.getElementById("rows");
  var body = table.querySelector("tbody");
  var status = document.getElementById("rows-status");
  var chips = document.getElementById("rows-filter");
  var search = document.getElementById("rows-q");
  var META = { n: 1, t: 1 };

  function parse() {
    var f = {}, h = location.hash;
    if (h.indexOf("#f/") !== 0) return f;
    h.slice(3).split("&").forEach(function (kv) {
      if (!kv) return;
      var i = kv.indexOf("=");
      f[decodeURIComponent(kv.slice(0, i))] = decodeURIComponent(kv.slice(i + 1));
    });
    return f;
  }
  function hashOf(f) {
    return "#f/" + Object.keys(f).filter(function (k) { return f[k] !== ""; }).map(function (k) {
      return encodeURIComponent(k) + "=" + encodeURIComponent(f[k]);
    }).join("&");
  }
  function keep(row, f) {
    for (var k in f) {
      if (META[k]) continue;
      var v = f[k];
      if (k === "from") { if (row.ts < v) return false; }
      else if (k === "to") { if (row.ts > v) return false; }
      else if (k === "tag") { if ((" " + row.tags + " ").indexOf(" " + v + " ") < 0) return false; }
      else if (k === "q") {
        var hay = cols.map(function (c) { return String(row[c]); }).join(" ").toLowerCase();
        if (hay.indexOf(v.toLowerCase()) < 0) return false;
      } else if (String(row[k]) !== v) return false;
    }
    return true;
  }
  function td(tr, text, cls) {
    var c = document.createElement("td");
    c.textContent = text;
    if (cls) c.className = cls;
    tr.appendChild(c);
    return c;
  }
  function fmt(n) { return Number(n).toLocaleString("en-US"); }
  function render() {
    var f = parse();
    matching = rows.filter(function (r) { return keep(r, f); });
    var pages = Math.max(1, Math.ceil(matching.length / PAGE));
    if (page >= pages) page = pages - 1;
    body.textContent = "";
    matching.slice(page * PAGE, page * PAGE + PAGE).forEach(function (r) {
      var tr = document.createElement("tr");
      tr.className = "o-" + r.o;
      tr.setAttribute("data-seq", r.seq);
      if (data.logs > 1) td(tr, "log " + (r.log + 1), "r");
      td(tr, r.seq, "r");
      td(tr, r.ts.replace("T", " ").replace("Z", "").slice(0, 23), "ts");
      td(tr, r.kind === "decision" ? r.o.replace("_", " ") : r.kind);
      td(tr, r.j ? r.j + (r.verified === "no" ? " (unverified)" : "") : "");
      td(tr, [r.req, r.loc && "in " + r.loc, r.appr && "approval " + r.appr].filter(Boolean).join(", "));
      td(tr, r.method ? r.method + " " + r.path : "", "mono");
      td(tr, [r.route, r.c].filter(Boolean).join(" / "));
      td(tr, r.region || (r.kind === "decision" ? "-" : ""));
      td(tr, r.status);
      td(tr, r.reason);
      td(tr, r.obl === "none" ? "" : r.obl);
      var t = td(tr, "");
      (r.tags ? r.tags.split(" ") : []).forEach(function (g) {
        var s = document.createElement("span");
        s.className = "tag";
        s.textContent = g.replace("_", " ");
        t.appendChild(s);
      });
      body.appendChild(tr);
    });
    var first = matching.length ? page * PAGE + 1 : 0;
    var last = Math.min(matching.length, (page + 1) * PAGE);
    var msg = "Rows " + fmt(first) + "\u2013" + fmt(last) + " of " + fmt(matching.length) + " embedded records matching";
    if (f.n !== undefined) {
      msg += "; the log holds " + fmt(f.n) + " such records" +
        (Number(f.n) > matching.length ? " (a sample is embedded, see below)" : " (all embedded)");
    }
    status.textContent = msg + ". Page " + (page + 1) + " of " + pages + ".";
    chips.textContent = "";
    Object.keys(f).forEach(function (k) {
      if (k === "n") return;
      var s = document.createElement("span");
      s.textContent = k === "t" ? f[k] : k + " = " + f[k];
      chips.appendChild(s);
    });
    if (!Object.keys(f).length) chips.textContent = "no filter: every embedded record";
    table.setAttribute("data-matching", String(matching.length));
    table.setAttribute("data-rendered", "1");
    ["j", "o", "route", "region"].forEach(function (k) {
      var sel = document.getElementById("rows-sel-" + k);
      if (sel) sel.value = f[k] || "";
    });
    if (search && document.activeElement !== search) search.value = f.q || "";
  }
  function fill(k) {
    var sel = document.getElementById("rows-sel-" + k);
    if (!sel) return;
    var seen = {};
    rows.forEach(function (r) { if (r[k]) seen[r[k]] = 1; });
    Object.keys(seen).sort().forEach(function (v) {
      var o = document.createElement("option");
      o.value = v;
      o.textContent = v.replace("_", " ");
      sel.appendChild(o);
    });
    sel.addEventListener("change", function () {
      var f = parse();
      delete f.n; delete f.t;
      f[k] = sel.value;
      location.hash = hashOf(f);
    });
  }
  ["j", "o", "route", "region"].forEach(fill);
  if (search) search.addEventListener("change", function () {
    var f = parse();
    delete f.n; delete f.t;
    f.q = search.value;
    location.hash = hashOf(f);
  });
  document.getElementById("rows-clear").addEventListener("click", function () { location.hash = "#f/"; });
  document.getElementById("rows-first").addEventListener("click", function () { page = 0; render(); });
  document.getElementById("rows-prev").addEventListener("click", function () { if (page > 0) page--; render(); });
  document.getElementById("rows-next").addEventListener("click", function () { page++; render(); });
  document.getElementById("rows-last").addEventListener("click", function () { page = 1e9; render(); });
  window.addEventListener("hashchange", function () {
    page = 0;
    render();
    if (location.hash.indexOf("#f/") === 0) document.getElementById("records").scrollIntoView();
  });
  render();
})();
