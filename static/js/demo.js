// The /demo/ page refreshes what the simulators received every few seconds while it is visible
// (no inline script: works under a strict CSP). The server renders and escapes everything.
(function () {
  "use strict";
  var INTERVAL = 3000;
  var busy = false;

  function refresh() {
    var current = document.getElementById("demo-state");
    if (!current || busy || document.hidden) return;
    busy = true;
    fetch(window.location.href, { headers: { "Accept": "text/html" }, credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (text) {
        if (!text) return;
        var fresh = new DOMParser().parseFromString(text, "text/html").getElementById("demo-state");
        if (!fresh) return;
        // Bitrix24 cards are folded: the ones the reader opened stay open across the refresh.
        current.querySelectorAll("details[open][id]").forEach(function (opened) {
          var again = fresh.querySelector("#" + CSS.escape(opened.id));
          if (again) again.open = true;
        });
        current.replaceWith(document.importNode(fresh, true));
      })
      .catch(function () { /* the server restarts: try again next time */ })
      .then(function () { busy = false; });
  }

  window.setInterval(refresh, INTERVAL);
})();
