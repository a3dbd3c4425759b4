// Tells Bitrix24 that the installation finished (its BX24 library is loaded by the page, from Bitrix24).
(function () {
  "use strict";
  if (window.BX24) {
    window.BX24.init(function () { window.BX24.installFinish(); });
  }
})();
