// sidequest dashboard behaviour. Loaded as a file (the Content-Security-Policy forbids
// inline script): confirmations, row selection, relative times and the live graph.
// Every page works without it; it only adds convenience and the live graph.
"use strict";

(function () {
  var MIN_POLL_SECONDS = 1;   // the bounds the server applies to ?poll= (params.py);
  var MAX_POLL_SECONDS = 60;  // a stored value outside them is ignored (CVE-2023-26141)
  var POLL_KEY = "sidequest.pollSeconds";
  var MAX_SAMPLES = 60;

  function confirmations() {
    document.addEventListener("click", function (event) {
      var button = event.target.closest("button[data-confirm]");
      if (button && !window.confirm(button.getAttribute("data-confirm"))) {
        event.preventDefault();
      }
    });
  }

  function selection() {
    var form = document.getElementById("selection-form");
    if (!form) { return; }
    var boxes = form.querySelectorAll("input[name='id']");
    var all = form.querySelector("[data-select-all]");
    var counter = form.querySelector("[data-selection-count]");
    var buttons = form.querySelectorAll("[data-needs-selection]");
    function refresh() {
      var chosen = form.querySelectorAll("input[name='id']:checked").length;
      counter.textContent = chosen === 0 ? "no entry selected"
        : chosen === 1 ? "1 entry selected" : chosen + " entries selected";
      buttons.forEach(function (button) { button.disabled = chosen === 0; });
      if (all) {
        all.checked = chosen > 0 && chosen === boxes.length;
        all.indeterminate = chosen > 0 && chosen < boxes.length;
      }
    }
    if (all) {
      all.addEventListener("change", function () {
        boxes.forEach(function (box) { box.checked = all.checked; });
        refresh();
      });
    }
    boxes.forEach(function (box) { box.addEventListener("change", refresh); });
    refresh();
  }

  var UNITS = [["year", 31536000], ["day", 86400], ["hour", 3600], ["minute", 60], ["second", 1]];

  function relative(seconds) {
    var distance = Math.abs(seconds);
    if (distance < 1) { return "just now"; }
    for (var i = 0; i < UNITS.length; i++) {
      if (distance >= UNITS[i][1]) {
        var count = Math.floor(distance / UNITS[i][1]);
        var phrase = count + " " + UNITS[i][0] + (count === 1 ? "" : "s");
        return seconds > 0 ? phrase + " ago" : "in " + phrase;
      }
    }
    return "just now";
  }

  function refreshTimes() {
    var now = Date.now();
    document.querySelectorAll("time[datetime]").forEach(function (element) {
      var moment = Date.parse(element.getAttribute("datetime"));
      if (!isNaN(moment)) { element.textContent = relative((now - moment) / 1000); }
    });
  }

  function clampPoll(value) {
    var seconds = parseInt(value, 10);
    if (isNaN(seconds) || seconds < MIN_POLL_SECONDS || seconds > MAX_POLL_SECONDS) { return null; }
    return seconds;
  }

  function storedPoll() {
    try { return clampPoll(window.localStorage.getItem(POLL_KEY)); } catch (error) { return null; }
  }

  function livePanel() {
    var panel = document.getElementById("live");
    if (!panel) { return; }
    var graph = document.getElementById("live-graph");
    var status = document.getElementById("live-status");
    var select = document.getElementById("poll-interval");
    var url = panel.getAttribute("data-stats-url");
    var seconds = storedPoll() || clampPoll(panel.getAttribute("data-poll-seconds")) || 5;
    var previous = null;
    var processed = [];
    var failed = [];
    var timer = null;

    function chooseOption(value) {
      var found = false;
      select.querySelectorAll("option").forEach(function (option) {
        if (parseInt(option.value, 10) === value) { option.selected = true; found = true; }
      });
      if (!found) {
        var option = document.createElement("option");
        option.value = String(value);
        option.textContent = value + " s";
        option.selected = true;
        select.appendChild(option);
      }
    }
    chooseOption(seconds);
    select.addEventListener("change", function () {
      var chosen = clampPoll(select.value);
      if (chosen === null) { return; }
      seconds = chosen;
      try { window.localStorage.setItem(POLL_KEY, String(chosen)); } catch (error) { /* private mode */ }
      schedule(0);
    });

    function points(values, top) {
      var width = 800, height = 180, step = width / (MAX_SAMPLES - 1);
      var offset = MAX_SAMPLES - values.length;
      return values.map(function (value, index) {
        var x = (offset + index) * step;
        var y = height - 4 - (height - 12) * (value / top);
        return x.toFixed(1) + "," + y.toFixed(1);
      }).join(" ");
    }

    function draw() {
      var top = Math.max(1, Math.max.apply(null, processed.concat(failed)));
      graph.querySelector(".series.processed").setAttribute("points", points(processed, top));
      graph.querySelector(".series.failed").setAttribute("points", points(failed, top));
      graph.querySelector("#live-peak").textContent = "peak " + top.toLocaleString("en-US") +
        " per " + seconds + " s";
      graph.setAttribute("data-samples", String(processed.length));
      graph.setAttribute("data-last-processed", String(processed[processed.length - 1]));
      graph.setAttribute("data-last-failed", String(failed[failed.length - 1]));
    }

    function showNumbers(stats) {
      document.querySelectorAll("[data-stat]").forEach(function (element) {
        var value = stats[element.getAttribute("data-stat")];
        if (typeof value === "number") { element.textContent = value.toLocaleString("en-US"); }
      });
    }

    function poll() {
      fetch(url, { headers: { "Accept": "application/json" }, credentials: "same-origin" })
        .then(function (response) {
          if (!response.ok) { throw new Error("HTTP " + response.status); }
          return response.json();
        })
        .then(function (stats) {
          showNumbers(stats);
          if (previous !== null) {
            processed.push(Math.max(0, stats.processed - previous.processed));
            failed.push(Math.max(0, stats.failed - previous.failed));
            if (processed.length > MAX_SAMPLES) { processed.shift(); failed.shift(); }
            draw();
          }
          previous = stats;
          status.textContent = "Updated " + new Date().toLocaleTimeString() + ", every " + seconds + " s.";
        })
        .catch(function (error) {
          status.textContent = "Could not read the stats (" + error.message + "); retrying.";
        })
        .then(function () { schedule(seconds * 1000); });
    }

    function schedule(delay) {
      if (timer !== null) { window.clearTimeout(timer); }
      timer = window.setTimeout(poll, delay);
    }
    schedule(0);
  }

  document.addEventListener("DOMContentLoaded", function () {
    confirmations();
    selection();
    refreshTimes();
    window.setInterval(refreshTimes, 15000);
    livePanel();
  });
})();
