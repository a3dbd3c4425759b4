// Posts the demo form as JSON and shows the API's answer (no inline script: works under a strict CSP).
// The sentences are the page's, translated on the server: each is a code (a data-msg-* attribute of
// the result element) with {name} parameters filled in here.
(function () {
  "use strict";
  var form = document.getElementById("lead-form");
  var out = document.getElementById("lead-result");
  if (!form || !out) return;

  function say(code, params) {
    var text = out.getAttribute("data-msg-" + code) || code;
    return text.replace(/\{(\w+)\}/g, function (_, name) {
      return params && params[name] !== undefined ? String(params[name]) : "";
    });
  }

  function describe(status, body) {
    if (status === 201) return say("created", { id: body.id });
    if (status === 200 && body.duplicate) return say("duplicate", { id: body.id });
    if (status === 200) return say("thanks");
    if (body && typeof body === "object") {
      return Object.keys(body).map(function (k) {
        var v = body[k];
        return (k === "detail" ? "" : k + ": ") + (Array.isArray(v) ? v.join(" ") : v);
      }).join("; ");
    }
    return say("error", { status: status });
  }

  function followLink(id) {
    var base = out.getAttribute("data-follow-url");
    if (!base || !id) return null;
    var link = document.createElement("a");
    link.id = "lead-follow";
    link.href = base + "?lead=" + encodeURIComponent(id) + "#lead-" + encodeURIComponent(id);
    link.textContent = say("follow");
    return link;
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
        var link = response.ok && body ? followLink(body.id) : null;
        if (link) { out.appendChild(document.createTextNode(" ")); out.appendChild(link); }
        if (response.status === 201) form.reset();
      });
    }).catch(function () {
      out.className = "error";
      out.textContent = say("unreachable");
    });
  });
})();
