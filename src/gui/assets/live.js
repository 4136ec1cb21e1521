// SentryPeer dashboard, live page: follows the API's live stream (/api/v1/stream, Server-Sent
// Events, same origin, the session cookie standing for the token) and adds each captured event
// and each blocklist decision to its table without a reload. Attacker text only ever goes in
// through textContent, never as markup. Under a flood every message is counted, but only the
// newest few are kept (unparsed) between draws, the tables are redrawn at most every DRAW_EVERY
// milliseconds and keep ROWS rows: the tab stays responsive and its memory bounded.
"use strict";
(function () {
  var DRAW_EVERY = 100;
  var RETRY_REFUSED = 10000;
  var status = document.getElementById("live-status");
  if (!status || !window.EventSource) { return; }
  var ROWS = Number(status.getAttribute("data-rows")) || 50;
  var connection = document.getElementById("connection");
  var eventCount = document.getElementById("event-count");
  var eventRate = document.getElementById("event-rate");
  var decisionCount = document.getElementById("decision-count");
  var missedCount = document.getElementById("missed-count");
  var decisionBody = document.querySelector("#decisions tbody");
  var eventBody = document.querySelector("#recent-events tbody");
  var events = 0;
  var decisions = 0;
  var missed = 0;
  var rateMark = { at: Date.now(), events: 0 };
  // The newest messages' data (text), oldest first, at most ROWS of each.
  var pendingDecisions = [];
  var pendingEvents = [];
  var scheduled = false;

  function keep(list, data) {
    list.push(data);
    if (list.length > ROWS * 2) { list.splice(0, list.length - ROWS); }
  }

  function cell(row, text) {
    var td = document.createElement("td");
    td.textContent = text;
    row.appendChild(td);
    return td;
  }

  function parsed(list) {
    var rows = [];
    list.slice(-ROWS).forEach(function (data) {
      try { rows.push(JSON.parse(data)); } catch (e) { /* not one of ours: skip */ }
    });
    return rows;
  }

  function prepend(body, rows) {
    var fragment = document.createDocumentFragment();
    for (var i = rows.length - 1; i >= 0; i -= 1) { fragment.appendChild(rows[i]); }
    body.insertBefore(fragment, body.firstChild);
    while (body.rows.length > ROWS) { body.deleteRow(-1); }
  }

  // A row of text cells; the one at userAgentAt (if any) is marked as a user agent.
  function row(className, texts, userAgentAt) {
    var tr = document.createElement("tr");
    tr.className = className;
    texts.forEach(function (text, index) {
      var td = cell(tr, String(text === undefined || text === null ? "" : text));
      if (index === userAgentAt) { td.className = "user-agent"; }
    });
    return tr;
  }

  function decisionRow(d) {
    return row("decision", [d.last_seen, d.change, d.key_type, d.key, d.count || 0,
      (d.attack_types || []).join(", ")], -1);
  }

  function eventRow(e) {
    return row("event", [e.event_timestamp, e.source_ip, e.sip_method, e.called_number,
      e.sip_user_agent, e.attack_type], 4);
  }

  function draw() {
    scheduled = false;
    prepend(decisionBody, parsed(pendingDecisions).map(decisionRow));
    prepend(eventBody, parsed(pendingEvents).map(eventRow));
    pendingDecisions = [];
    pendingEvents = [];
    var now = Date.now();
    if (now - rateMark.at >= 1000) {
      eventRate.textContent = String(Math.round((events - rateMark.events) * 1000 / (now - rateMark.at)));
      rateMark = { at: now, events: events };
    }
    eventCount.textContent = String(events);
    decisionCount.textContent = String(decisions);
    missedCount.textContent = String(missed);
  }

  function schedule() {
    if (!scheduled) {
      scheduled = true;
      window.setTimeout(draw, DRAW_EVERY);
    }
  }

  function follow() {
    var source = new EventSource(status.getAttribute("data-stream"));
    source.onopen = function () {
      connection.textContent = "Connected: events and decisions appear as they happen.";
    };
    source.onerror = function () {
      if (source.readyState === EventSource.CLOSED) {
        // Refused (the stream's client cap, or signed out): the browser will not retry itself.
        connection.textContent = "The live stream refused this page (too many clients, or signed out); retrying…";
        window.setTimeout(follow, RETRY_REFUSED);
      } else {
        connection.textContent = "Disconnected; reconnecting…";
      }
    };
    source.addEventListener("event", function (message) {
      events += 1;
      keep(pendingEvents, message.data);
      schedule();
    });
    source.addEventListener("decision", function (message) {
      decisions += 1;
      keep(pendingDecisions, message.data);
      schedule();
    });
    source.addEventListener("missed", function (message) {
      try { missed += JSON.parse(message.data).events || 0; } catch (e) { missed += 1; }
      schedule();
    });
  }

  follow();
  window.setInterval(schedule, 1000);
}());
