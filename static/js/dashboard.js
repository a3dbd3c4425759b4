// The dashboard's charts (data from the django-chartjs views named in each canvas's data-url)
// and its sortable tables. No inline code: the page runs under a strict Content-Security-Policy.
"use strict";

function chartOptions(kind, data) {
  const options = { responsive: true, maintainAspectRatio: false, animation: false,
                    plugins: { legend: { position: "bottom" } } };
  if (kind === "doughnut") {
    return options;
  }
  options.scales = { y: { beginAtZero: true } };
  // Datasets that name an axis (one per currency) get their own, so sums in different currencies
  // never share a scale.
  data.datasets.filter((set) => set.yAxisID).forEach((set, index) => {
    options.scales[set.yAxisID] = { beginAtZero: true, position: index % 2 ? "right" : "left",
                                    title: { display: true, text: set.label },
                                    grid: { drawOnChartArea: index === 0 } };
    delete options.scales.y;
  });
  return options;
}

async function drawChart(canvas) {
  const response = await fetch(canvas.dataset.url, { credentials: "same-origin",
                                                     headers: { Accept: "application/json" } });
  if (!response.ok) {
    throw new Error(`${canvas.dataset.url}: ${response.status}`);
  }
  const data = await response.json();
  const kind = canvas.dataset.chart;
  canvas.chart = new Chart(canvas, { type: kind, data: data, options: chartOptions(kind, data) });
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
  document.querySelectorAll("form.filter").forEach(linkRangeToDates);
  document.querySelectorAll("table.sortable").forEach(makeSortable);
  document.querySelectorAll("canvas[data-chart]").forEach((canvas) => {
    drawChart(canvas).catch((error) => {
      canvas.dataset.drawn = "error";
      console.error(error);
    });
  });
});
