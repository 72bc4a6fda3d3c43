// Keeps report statuses on the page current by polling the JSON API.
// Loaded as a file (no inline script), so the Content-Security-Policy can forbid inline
// code; it writes only text and attributes, never HTML, so no value can inject markup.
"use strict";

(function () {
  const FINAL = new Set(["done", "failed"]);
  const MAX_IDS = 50;

  function start(table) {
    const url = table.dataset.pollUrl;
    const interval = Math.max(500, Number(table.dataset.pollInterval) || 2000);

    function openRows() {
      return Array.from(table.querySelectorAll("tr[data-report-id]"))
        .filter((row) => !FINAL.has(row.dataset.status));
    }

    async function poll() {
      const rows = openRows().slice(0, MAX_IDS);
      if (rows.length === 0) {
        return; // everything on the page is final: stop polling
      }
      const ids = rows.map((row) => row.dataset.reportId).join(",");
      try {
        const response = await fetch(`${url}?ids=${encodeURIComponent(ids)}`, {
          headers: { Accept: "application/json" },
          credentials: "same-origin",
        });
        if (response.ok) {
          const body = await response.json();
          body.reports.forEach((report) => update(table, report));
        }
      } catch (error) {
        // A network blip or a restart of the web tier: the next tick tries again.
      }
      window.setTimeout(poll, interval);
    }

    window.setTimeout(poll, interval);
  }

  function update(table, report) {
    const row = Array.from(table.querySelectorAll("tr[data-report-id]"))
      .find((candidate) => candidate.dataset.reportId === report.id);
    if (!row) {
      return;
    }
    showProgress(row, report);
    if (row.dataset.status === report.status) {
      return;
    }
    row.dataset.status = report.status;
    const status = row.querySelector('[data-field="status"]');
    status.textContent = report.status;
    status.className = `status status-${report.status}`;
    const badge = row.querySelector('[data-field="enqueue-failed"]');
    if (badge && !report.enqueue_failed) {
      badge.remove();
    }
    const result = row.querySelector('[data-field="result"]');
    result.replaceChildren();
    if (report.status === "done") {
      result.append(link(report.links.download, "Download CSV"), " · ",
        link(report.links.summary, "Summary"));
    } else if (report.status === "failed") {
      const text = document.createElement("span");
      text.className = "error-text";
      text.textContent = report.error || "failed";
      result.append(text);
    }
  }

  // The job's progress (days of the range summed) while the report is being built.
  function showProgress(row, report) {
    const box = row.querySelector('[data-field="progress"]');
    if (!box) {
      return;
    }
    const progress = report.progress;
    if (FINAL.has(report.status) || !progress || progress.percent === null) {
      box.hidden = true;
      return;
    }
    box.querySelector("progress").value = progress.percent;
    box.querySelector('[data-field="progress-text"]').textContent = `${progress.percent}%`;
    box.title = progress.message || "";
    box.hidden = false;
  }

  function link(href, label) {
    const anchor = document.createElement("a");
    anchor.href = href;
    anchor.textContent = label;
    return anchor;
  }

  document.addEventListener("DOMContentLoaded", () => {
    document.querySelectorAll("table[data-report-poll]").forEach(start);
  });
})();
