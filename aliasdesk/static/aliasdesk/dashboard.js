// aliasdesk traffic dashboard: each canvas[data-traffic] gets a Chart.js chart of the JSON at that URL.
(() => {
  "use strict";
  const COLORS = {
    received: "#1d6fd8",
    delivered: "#1e7d32",
    deferred: "#d98200",
    bounced: "#b3261e",
    rejected: "#7c5cbf",
  };
  const LINES = ["received", "delivered"];  // the volume, on the left axis
  const number = new Intl.NumberFormat();

  // The texts come translated from the page (data- attributes of .dash-charts), English if missing.
  function texts(canvas) {
    return (canvas && canvas.closest(".dash-charts") || document.body).dataset;
  }

  function say(canvas, text) {
    const note = document.createElement("p");
    note.className = "muted chart-note";
    note.textContent = text;
    canvas.closest(".chart-box").replaceWith(note);
  }

  // Received and delivered as lines; deferred, bounced and rejected as bars stacked on one
  // another, on the same scale, so a problem looks as big as it is.
  function datasets(series, words) {
    return Object.keys(series).map((name) => {
      const line = LINES.includes(name);
      const color = COLORS[name] || "#555";
      return {
        type: line ? "line" : "bar",
        label: words["label" + name.charAt(0).toUpperCase() + name.slice(1)] || name.charAt(0).toUpperCase() + name.slice(1),
        data: series[name],
        stack: line ? name : "problems",
        borderColor: color,
        backgroundColor: line ? color + "22" : color + "cc",
        fill: name === "received",
        tension: 0.25,
        pointRadius: 0,
        pointHitRadius: 8,
        borderWidth: line ? 2 : 0,
        order: line ? 0 : 1,
      };
    });
  }

  function draw(canvas, data) {
    const ticks = { precision: 0, callback: (value) => number.format(value) };
    return new window.Chart(canvas, {
      data: { labels: data.labels, datasets: datasets(data.series, texts(canvas)) },
      options: {
        maintainAspectRatio: false,
        animation: false,
        interaction: { mode: "index", intersect: false },
        plugins: {
          legend: { position: "bottom", labels: { boxWidth: 12, boxHeight: 12 } },
          tooltip: { callbacks: { label: (item) => `${item.dataset.label}: ${number.format(item.parsed.y)}` } },
        },
        scales: {
          x: { grid: { display: false }, ticks: { autoSkip: true, maxRotation: 0 } },
          y: { stacked: true, beginAtZero: true, ticks },
        },
      },
    });
  }

  async function load(canvas) {
    if (typeof window.Chart !== "function") {
      say(canvas, texts(canvas).noChart || "The chart could not be drawn (chart.js did not load); the numbers above are complete.");
      return;
    }
    try {
      const response = await fetch(canvas.dataset.traffic, { headers: { Accept: "application/json" }, credentials: "same-origin" });
      if (!response.ok) { throw new Error(`HTTP ${response.status}`); }
      canvas.chart = draw(canvas, await response.json());
    } catch (error) {
      say(canvas, (texts(canvas).loadFailed || "The chart could not be loaded ({error}).").replace("{error}", error.message));
    }
  }

  function start() {
    document.querySelectorAll("canvas[data-traffic]").forEach(load);
    document.querySelectorAll("form[data-autosubmit] select").forEach((select) => {
      select.addEventListener("change", () => select.form.submit());
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
