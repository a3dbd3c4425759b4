// Posts the demo form as JSON and shows the API's answer (no inline script: works under a strict CSP).
(function () {
  "use strict";
  var form = document.getElementById("lead-form");
  var out = document.getElementById("lead-result");
  if (!form || !out) return;

  function describe(status, body) {
    if (status === 201) return "Thank you! Lead " + body.id + " is " + body.status + ".";
    if (status === 200 && body.duplicate) return "We already have your request (" + body.id + ").";
    if (status === 200) return "Thank you!";
    if (body && typeof body === "object") {
      return Object.keys(body).map(function (k) {
        var v = body[k];
        return (k === "detail" ? "" : k + ": ") + (Array.isArray(v) ? v.join(" ") : v);
      }).join("; ");
    }
    return "Error " + status;
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var data = {};
    new FormData(form).forEach(function (value, key) { if (value !== "") data[key] = value; });
    data.page = window.location.href;  // kept in the consent proof
    out.className = "";
    out.textContent = "…";
    fetch(form.action, {
      method: "POST",
      headers: { "Content-Type": "application/json", "Accept": "application/json" },
      body: JSON.stringify(data)
    }).then(function (response) {
      return response.json().catch(function () { return null; }).then(function (body) {
        out.className = response.ok ? "ok" : "error";
        out.textContent = describe(response.status, body);
        if (response.status === 201) form.reset();
      });
    }).catch(function () {
      out.className = "error";
      out.textContent = "The server cannot be reached.";
    });
  });
})();
