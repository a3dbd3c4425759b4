// The dashboard's charts (data from the django-chartjs views named in each canvas's data-url)
// and its sortable tables. No inline code: the page runs under a strict Content-Security-Policy.
"use strict";

// Axis numbers in the page's language, short enough to read: 1.2M, 1,2 млн.
const compactNumber = new Intl.NumberFormat(document.documentElement.lang || undefined,
                                            { notation: "compact", maximumFractionDigits: 1 });

function chartOptions(canvas) {
  const kind = canvas.dataset.chart;
  const options = { responsive: true, maintainAspectRatio: false, animation: false,
                    plugins: { legend: { position: "bottom" } } };
  if (kind === "doughnut") {
    return options;
  }
  // data-axis="y": horizontal bars (one currency's sums per partner), the values along x.
  const valueAxis = canvas.dataset.axis === "y" ? "x" : "y";
  options.indexAxis = canvas.dataset.axis === "y" ? "y" : "x";
  options.scales = { [valueAxis]: { beginAtZero: true,
                                    ticks: { precision: 0, callback: (value) => compactNumber.format(value) } } };
  if (canvas.dataset.axis === "y") {
    options.plugins.legend.display = false;  // one dataset: the heading names the currency
  }
  return options;
}

async function drawChart(canvas) {
  const response = await fetch(canvas.dataset.url, { credentials: "same-origin",
                                                     headers: { Accept: "application/json" } });
  if (!response.ok) {
    throw new Error(`${canvas.dataset.url}: ${response.status}`);
  }
  const data = await response.json();
  canvas.chart = new Chart(canvas, { type: canvas.dataset.chart, data: data, options: chartOptions(canvas) });
  canvas.dataset.drawn = String(data.datasets.reduce((sum, set) => sum + set.data.length, 0));
}

function cellValue(row, index, type) {
  const cell = row.cells[index];
  const raw = cell.dataset.value !== undefined ? cell.dataset.value : cell.textContent.trim();
  return type === "number" ? Number(raw) : raw.toLocaleLowerCase();
}

function makeSortable(table) {
  table.querySelectorAll("th").forEach((th, index) => {
    th.addEventListener("click", () => {
      const ascending = th.getAttribute("aria-sort") !== "ascending";
      table.querySelectorAll("th").forEach((other) => other.removeAttribute("aria-sort"));
      th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
      const body = table.tBodies[0];
      const rows = Array.from(body.rows).filter((row) => row.cells.length > index);
      rows.sort((a, b) => {
        const x = cellValue(a, index, th.dataset.type);
        const y = cellValue(b, index, th.dataset.type);
        return (x < y ? -1 : x > y ? 1 : 0) * (ascending ? 1 : -1);
      });
      rows.forEach((row) => body.appendChild(row));
    });
  });
}

// A date typed in means "these dates"; a preset chosen means "not the dates typed before".
function linkRangeToDates(form) {
  const range = form.elements.range;
  const dates = [form.elements.start, form.elements.end].filter(Boolean);
  if (!range) {
    return;
  }
  dates.forEach((input) => input.addEventListener("change", () => {
    if (input.value) {
      range.value = "custom";
    }
  }));
  range.addEventListener("change", () => {
    if (range.value !== "custom") {
      dates.forEach((input) => { input.value = ""; });
    }
  });
}

document.addEventListener("DOMContentLoaded", () => {
  // The language list applies as soon as it changes (its button stays for pages without this script).
  document.querySelectorAll("form.language select").forEach((select) => {
    select.addEventListener("change", () => select.form.submit());
  });
  document.querySelectorAll("form.filter").forEach(linkRangeToDates);
  document.querySelectorAll("table.sortable").forEach(makeSortable);
  document.querySelectorAll("canvas[data-chart]").forEach((canvas) => {
    drawChart(canvas).catch((error) => {
      canvas.dataset.drawn = "error";
      console.error(error);
    });
  });
});
