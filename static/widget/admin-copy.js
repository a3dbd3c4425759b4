// The site's admin page: copy the widget snippet (leads/admin.py, SiteAdmin.widget_snippet).
(function () {
  "use strict";
  var button = document.getElementById("lc-snippet-copy");
  var field = document.getElementById("lc-snippet");
  if (!button || !field) return;
  button.addEventListener("click", function () {
    var label = button.textContent;
    var done = function () {
      button.textContent = button.getAttribute("data-done");
      setTimeout(function () { button.textContent = label; }, 2000);
    };
    field.select();
    if (navigator.clipboard && window.isSecureContext) navigator.clipboard.writeText(field.value).then(done);
    else if (document.execCommand("copy")) done();
  });
})();
