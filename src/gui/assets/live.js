// SentryPeer dashboard, live page: follows the live stream (Server-Sent Events) and adds each
// blocklist decision, and each captured event when the stream carries them, to its table
// without a reload. Attacker text only ever goes in
// through textContent, never as markup. Under a flood every message is counted, the table is
// redrawn at most once a frame and keeps only the newest rows, so the tab stays responsive and
// its memory bounded.
"use strict";
(function () {
  var ROWS_KEPT = 100;
  var status = document.getElementById("live-status");
  if (!status || !window.EventSource) { return; }
  var connection = document.getElementById("connection");
  var decisionCount = document.getElementById("decision-count");
  var missedCount = document.getElementById("missed-count");
  var tbody = document.querySelector("#decisions tbody");
  var eventBody = document.querySelector("#recent-events tbody");
  var received = 0;
  var missed = 0;
  var pending = [];
  var pendingEvents = [];
  var scheduled = false;

  function cell(row, text) {
    var td = document.createElement("td");
    td.textContent = text;
    row.appendChild(td);
  }

  function draw() {
    scheduled = false;
    var newest = pending.slice(-ROWS_KEPT);
    pending = [];
    newest.forEach(function (decision) {
      var row = document.createElement("tr");
      row.className = "decision";
      cell(row, String(decision.last_seen || ""));
      cell(row, String(decision.change || ""));
      cell(row, String(decision.key_type || ""));
      cell(row, String(decision.key || ""));
      cell(row, String(decision.count || 0));
      cell(row, (decision.attack_types || []).join(", "));
      tbody.insertBefore(row, tbody.firstChild);
    });
    while (tbody.rows.length > ROWS_KEPT) { tbody.deleteRow(-1); }
    var newestEvents = pendingEvents.slice(-ROWS_KEPT);
    pendingEvents = [];
    newestEvents.forEach(function (event) {
      var row = document.createElement("tr");
      row.className = "event";
      cell(row, String(event.event_timestamp || ""));
      cell(row, String(event.source_ip || ""));
      cell(row, String(event.sip_method || ""));
      cell(row, String(event.called_number || ""));
      cell(row, String(event.sip_user_agent || ""));
      row.lastChild.className = "user-agent";
      cell(row, String(event.attack_type || ""));
      eventBody.insertBefore(row, eventBody.firstChild);
    });
    while (eventBody.rows.length > ROWS_KEPT) { eventBody.deleteRow(-1); }
    decisionCount.textContent = String(received);
    missedCount.textContent = String(missed);
  }

  function schedule() {
    if (!scheduled) {
      scheduled = true;
      window.requestAnimationFrame(draw);
    }
  }

  var source = new EventSource(status.getAttribute("data-stream"));
  source.onopen = function () { connection.textContent = "Connected: decisions appear as they happen."; };
  source.onerror = function () { connection.textContent = "Disconnected; reconnecting…"; };
  source.addEventListener("decision", function (message) {
    received += 1;
    try { pending.push(JSON.parse(message.data)); } catch (e) { return; }
    if (pending.length > ROWS_KEPT) { pending.splice(0, pending.length - ROWS_KEPT); }
    schedule();
  });
  source.addEventListener("event", function (message) {
    try { pendingEvents.push(JSON.parse(message.data)); } catch (e) { return; }
    if (pendingEvents.length > ROWS_KEPT) { pendingEvents.splice(0, pendingEvents.length - ROWS_KEPT); }
    schedule();
  });
  source.addEventListener("missed", function (message) {
    try {
      var lost = JSON.parse(message.data);
      missed += (lost.decisions || 0) + (lost.events || 0);
    } catch (e) { missed += 1; }
    schedule();
  });
}());
