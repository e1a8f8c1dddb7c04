// The web page at / : plain HTML and a little JavaScript, embedded (no build step). The token
// is typed into the page and kept in sessionStorage; every call goes to the JSON API.
#include "server/server.hpp"

namespace mlrun::server {

const std::string& web_page_html()
{
    static const std::string page = R"HTML(<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>mlrun submissions</title>
<style>
body{font-family:sans-serif;margin:2em;max-width:70em}table{border-collapse:collapse}
td,th{border:1px solid #ccc;padding:.2em .6em;text-align:left}#msg{color:#a00}
section{margin-bottom:1.5em}
</style></head><body>
<h1>mlrun submissions</h1>
<section><label>Token <input id="token" type="password" size="50"></label>
<button id="use">Use token</button> <span id="who"></span></section>
<section><h2>Submit</h2>
<form id="form">
<label>File <input id="file" name="file" type="file" accept=".csv,.tsv,.arff,.tar,.tgz,.gz"></label><br>
<label>Name <input id="name" name="name" value="my-submission"></label>
<label>Target <input id="target" name="target" value="survived"></label>
<label>Task <select id="task_type" name="task_type"><option>classification</option><option>regression</option></select></label><br>
<label>Challenge <select id="challenge"></select></label>
<button id="submit" type="submit">Submit</button>
</form><div id="msg"></div></section>
<section><h2>My jobs</h2><table id="jobs"><thead><tr><th>job</th><th>challenge</th><th>status</th><th>error</th></tr></thead><tbody></tbody></table></section>
<section><h2>Leaderboard <span id="lbname"></span></h2><table id="leaderboard"><thead><tr><th>rank</th><th>submission</th><th>model</th><th>score</th><th>job</th></tr></thead><tbody></tbody></table></section>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
// "#token=..." (a fragment: never sent to the server) fills the token, for bookmarks and tests.
if (location.hash.startsWith("#token=")) { sessionStorage.setItem("mlrun_token", decodeURIComponent(location.hash.slice(7))); }
let token = sessionStorage.getItem("mlrun_token") || "";
$("token").value = token;
function show(msg) { $("msg").textContent = msg; }
async function api(path, opts) {
  opts = opts || {};
  opts.headers = Object.assign({"Authorization": "Bearer " + token}, opts.headers || {});
  const r = await fetch(path, opts);
  const text = await r.text();
  let body = null;
  try { body = JSON.parse(text); } catch (e) { body = text; }
  if (!r.ok) { throw new Error((body && body.error) ? body.error.code + ": " + body.error.message : r.status); }
  return body;
}
function cell(row, text) { const td = document.createElement("td"); td.textContent = text; row.appendChild(td); }
function fill(table, rows) {
  const tb = $(table).querySelector("tbody");
  tb.replaceChildren();
  for (const r of rows) { const tr = document.createElement("tr"); for (const v of r) { cell(tr, v); } tb.appendChild(tr); }
}
async function loadChallenges() {
  const c = await api("/challenges");
  const sel = $("challenge");
  sel.replaceChildren();
  for (const ch of c.challenges) { const o = document.createElement("option"); o.textContent = ch.name; sel.appendChild(o); }
}
async function refresh() {
  if (!token) { return; }
  try {
    const j = await api("/jobs");
    fill("jobs", j.jobs.map((x) => [x.id, x.challenge, x.status, x.error || ""]));
    const name = $("challenge").value;
    if (name) {
      const lb = await api("/leaderboard?challenge=" + encodeURIComponent(name));
      $("lbname").textContent = "(" + lb.challenge + ", " + lb.primary_metric + ")";
      fill("leaderboard", lb.rows.map((r) => [r.rank, r.submission, r.model,
        (typeof r.score === "number") ? r.score.toFixed(4) : "", r.job_id]));
    }
  } catch (e) { show(e.message); }
}
async function useToken() {
  token = $("token").value.trim();
  sessionStorage.setItem("mlrun_token", token);
  try {
    const me = await api("/whoami");
    $("who").textContent = "signed in as " + me.name + " (" + me.role + ")";
    show("");
    await loadChallenges();
    await refresh();
  } catch (e) { $("who").textContent = ""; show(e.message); }
}
$("use").addEventListener("click", useToken);
$("form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const f = $("file").files[0];
  if (!f) { show("choose a file"); return; }
  const data = new FormData();
  data.append("name", $("name").value);
  data.append("target", $("target").value);
  data.append("task_type", $("task_type").value);
  data.append("file", f, f.name);
  try {
    show("uploading...");
    const sub = await api("/submissions", {method: "POST", body: data});
    const job = await api("/jobs", {method: "POST", headers: {"Content-Type": "application/json",
      "Idempotency-Key": "web-" + sub.id}, body: JSON.stringify({submission_id: sub.id, template: $("challenge").value})});
    show("job " + job.id + " " + job.status);
    await refresh();
  } catch (e) { show(e.message); }
});
setInterval(refresh, 1000);
if (token) { useToken(); }
</script></body></html>
)HTML";
    return page;
}

} // namespace mlrun::server
