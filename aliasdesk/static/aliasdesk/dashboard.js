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
    canvas.closest(".chart-card")?.querySelector(".chart-foot")?.remove();
    canvas.closest(".chart-box").replaceWith(note);
  }

  // Received and delivered as lines; deferred, bounced and rejected as bars stacked on one
  // another, on the same scale, so a problem looks as big as it is. The last point of a
  // "partial" series (the current hour, today) is still counting: the lines stop before it and
  // show it as an open dot, its bars are pale, so a half-counted hour does not read as a drop.
  function datasets(series, partial, words) {
    return Object.keys(series).map((name) => {
      const line = LINES.includes(name);
      const color = COLORS[name] || "#555";
      const last = series[name].length - 1;
      const counting = (index) => partial && index === last;
      return {
        type: line ? "line" : "bar",
        label: words["label" + name.charAt(0).toUpperCase() + name.slice(1)] || name.charAt(0).toUpperCase() + name.slice(1),
        data: series[name],
        stack: line ? name : "problems",
        borderColor: color,
        backgroundColor: line ? color + "22" : series[name].map((_, i) => color + (counting(i) ? "55" : "cc")),
        segment: {
          borderColor: (ctx) => (counting(ctx.p1DataIndex) ? "transparent" : undefined),
          backgroundColor: (ctx) => (counting(ctx.p1DataIndex) ? "transparent" : undefined),
        },
        pointRadius: (ctx) => (line && counting(ctx.dataIndex) ? 4 : 0),
        pointBackgroundColor: "#fff",
        pointBorderColor: color,
        pointBorderWidth: 2,
        fill: name === "received",
        tension: 0.25,
        pointHitRadius: 8,
        borderWidth: line ? 2 : 0,
        order: line ? 0 : 1,
      };
    });
  }

  function draw(canvas, data) {
    const ticks = { precision: 0, callback: (value) => number.format(value) };
    const last = data.labels.length - 1;
    const note = canvas.closest(".chart-card")?.querySelector("[data-partial-label]");
    const soFar = note ? note.dataset.partialLabel : "so far";
    return new window.Chart(canvas, {
      data: { labels: data.labels, datasets: datasets(data.series, data.partial, texts(canvas)) },
      options: {
        maintainAspectRatio: false,
        animation: false,
        interaction: { mode: "index", intersect: false },
        plugins: {
          legend: { position: "bottom", labels: { boxWidth: 12, boxHeight: 12 } },
          tooltip: {
            callbacks: {
              title: (items) => items.length && (data.partial && items[0].dataIndex === last
                ? `${items[0].label} (${soFar})` : items[0].label),
              label: (item) => `${item.dataset.label}: ${number.format(item.parsed.y)}`,
            },
          },
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
