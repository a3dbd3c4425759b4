/*
 * Leadcaller callback widget: one tag on a shop's page,
 *   <script src="https://<leadcaller>/static/widget/leadcaller.js" data-site-key="pk_..." async></script>
 * renders a floating "call me back" button and a small form, posts the lead to the intake of the server
 * the script came from, and shows how the call goes (GET /api/v1/leads/status/).
 * No framework, no build step. Everything lives in a Shadow DOM, so the shop's CSS cannot reach in
 * and ours cannot leak out; the host element's own box is pinned with !important inline styles.
 * Texts in Russian or English, by the page's lang. docs/forms.md describes the snippet.
 */
(function () {
  "use strict";

  var script = document.currentScript ||
    document.querySelector("script[data-site-key][src*='/static/widget/leadcaller.js']");
  if (!script || script.getAttribute("data-leadcaller-started")) return;
  script.setAttribute("data-leadcaller-started", "1");

  var siteKey = script.getAttribute("data-site-key") || "";
  var preview = script.hasAttribute("data-preview");
  var base = script.src.split("/static/widget/")[0];
  var lang = (script.getAttribute("data-lang") || document.documentElement.lang || navigator.language || "en")
    .toLowerCase().indexOf("ru") === 0 ? "ru" : "en";

  var TEXT = {
    en: {
      open: "Call me back", title: "We will call you back within a minute", close: "Close",
      phone: "Your phone number", name: "Your name (optional)", submit: "Call me",
      consentMissing: "Please tick the box to agree to the call.",
      phoneBad: "Please enter the whole phone number.", sending: "Sending…",
      waiting: "We are about to call you", calling: "Calling you now",
      scheduled: "We will call you back at {time}", reached: "We called you. Thank you!",
      manual: "A manager will call you back soon.", closed: "Thank you! We have your request.",
      again: "We already have your request and will call you soon.",
      throttled: "Too many requests. Please try again later.",
      failed: "Something went wrong. Please try again or call us.", preview: "Preview: nothing is sent."
    },
    ru: {
      open: "Перезвоните мне", title: "Перезвоним вам в течение минуты", close: "Закрыть",
      phone: "Ваш номер телефона", name: "Ваше имя (необязательно)", submit: "Жду звонка",
      consentMissing: "Отметьте, пожалуйста, согласие на звонок.",
      phoneBad: "Введите номер телефона полностью.", sending: "Отправляем…",
      waiting: "Сейчас позвоним", calling: "Звоним вам",
      scheduled: "Перезвоним в {time}", reached: "Мы вам позвонили. Спасибо!",
      manual: "Менеджер скоро вам перезвонит.", closed: "Спасибо! Заявка у нас.",
      again: "Ваша заявка уже у нас, скоро позвоним.",
      throttled: "Слишком много запросов. Попробуйте позже.",
      failed: "Что-то пошло не так. Попробуйте ещё раз или позвоните нам.",
      preview: "Предпросмотр: ничего не отправляется."
    }
  }[lang];

  var CSS = [
    ":host{all:initial}",
    "*{box-sizing:border-box;font-family:system-ui,-apple-system,'Segoe UI',Roboto,Arial,sans-serif;",
    "font-size:15px;line-height:1.4;letter-spacing:normal;text-transform:none}",
    ".btn{display:inline-flex;align-items:center;gap:8px;border:0;border-radius:28px;padding:14px 20px;",
    "background:#0b57a4;color:#fff;font-weight:600;cursor:pointer;box-shadow:0 4px 14px rgba(0,0,0,.3)}",
    ".btn:hover{background:#08447f}",
    "button:focus-visible,input:focus-visible{outline:3px solid #f5a623;outline-offset:2px}",
    ".panel{width:300px;max-width:calc(100vw - 32px);margin-bottom:12px;padding:18px;border-radius:12px;",
    "background:#fff;color:#1a1a1a;box-shadow:0 8px 30px rgba(0,0,0,.35);text-align:left}",
    ".panel[hidden],.hp,[hidden]{display:none}",
    ".head{display:flex;justify-content:space-between;align-items:flex-start;gap:8px;margin-bottom:12px}",
    "h2{margin:0;font-size:17px;font-weight:700;color:#1a1a1a}",
    ".x{background:none;border:0;color:#444;font-size:22px;line-height:1;cursor:pointer;padding:0 4px}",
    "label{display:block;margin:10px 0 4px;color:#1a1a1a}",
    "input[type=tel],input[type=text]{display:block;width:100%;padding:10px;border:1px solid #767676;",
    "border-radius:6px;background:#fff;color:#1a1a1a}",
    "input[aria-invalid=true]{border-color:#b00020}",
    ".consent{display:flex;gap:8px;align-items:flex-start;margin:12px 0 0;font-size:13px}",
    ".consent input{margin-top:3px;flex:none;width:18px;height:18px}",
    ".consent label{margin:0;font-size:13px}",
    ".err{color:#b00020;font-size:13px;margin:6px 0 0;min-height:0}",
    ".submit{margin-top:14px;width:100%;justify-content:center;box-shadow:none}",
    ".submit[disabled]{background:#5a6b7d;cursor:default}",
    ".state{font-size:17px;font-weight:600;margin:6px 0;color:#1a1a1a}",
    ".timer{font-variant-numeric:tabular-nums;font-size:28px;font-weight:700;color:#0b57a4}",
    ".note{font-size:13px;color:#444;margin-top:8px}"
  ].join("");

  var host = document.createElement("leadcaller-widget");
  // The host sits in the shop's page: pin its box against the shop's CSS (inline !important wins).
  // Set through the CSSOM, which a page's Content-Security-Policy allows, unlike a style attribute.
  var pin = {
    all: "initial", position: preview ? "static" : "fixed", right: "16px", bottom: "16px", left: "auto",
    top: "auto", "z-index": "2147483000", display: "block", visibility: "visible", opacity: "1",
    transform: "none", filter: "none", width: "auto", height: "auto", margin: "0", padding: "0",
    "text-align": "right", direction: "ltr", "pointer-events": "auto", float: "none", clip: "auto",
    "clip-path": "none", "font-size": "16px", zoom: "1"
  };
  for (var property in pin) host.style.setProperty(property, pin[property], "important");
  var root = host.attachShadow({ mode: "open" });
  if (root.adoptedStyleSheets !== undefined && window.CSSStyleSheet && CSSStyleSheet.prototype.replaceSync) {
    var sheet = new CSSStyleSheet();
    sheet.replaceSync(CSS);  // a constructed sheet also works under a shop's strict style-src CSP
    root.adoptedStyleSheets = [sheet];
  } else {
    var style = document.createElement("style");
    style.textContent = CSS;
    root.appendChild(style);
  }

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    for (var name in attrs || {}) {
      if (name === "text") node.textContent = attrs[name];
      else node.setAttribute(name, attrs[name]);
    }
    (children || []).forEach(function (child) { if (child) node.appendChild(child); });
    return node;
  }

  var config = null, form, panel, opener, phone, nameInput, consentBox, hp, error, submit, stateBox;

  function build() {
    var titleId = "lc-title", errorId = "lc-error";
    phone = el("input", { type: "tel", id: "lc-phone", name: "phone", autocomplete: "tel", inputmode: "tel",
      required: "", "aria-describedby": errorId, placeholder: config.phone_prefix === "+7" ?
        "+7 (___) ___-__-__" : (config.phone_prefix || "+") + " …" });
    nameInput = el("input", { type: "text", id: "lc-name", name: "name", autocomplete: "name", maxlength: "100" });
    hp = el("input", { type: "text", name: config.honeypot_field, tabindex: "-1", autocomplete: "off",
      "aria-hidden": "true", "class": "hp" });
    error = el("p", { id: errorId, "class": "err", role: "alert" });
    submit = el("button", { type: "submit", "class": "btn submit", text: TEXT.submit });
    var consent = null;
    if (config.consent_required) {
      consentBox = el("input", { type: "checkbox", id: "lc-consent", name: "consent", required: "" });
      consent = el("div", { "class": "consent" }, [consentBox,
        el("label", { "for": "lc-consent", text: config.consent_text || "" })]);
    }
    form = el("form", { novalidate: "" }, [
      el("label", { "for": "lc-phone", text: TEXT.phone }), phone,
      el("label", { "for": "lc-name", text: TEXT.name }), nameInput, hp, consent, error, submit,
      preview ? el("p", { "class": "note", text: TEXT.preview }) : null
    ]);
    stateBox = el("div", { "aria-live": "polite", hidden: "" });
    var closer = el("button", { type: "button", "class": "x", "aria-label": TEXT.close, text: "×" });
    panel = el("div", { "class": "panel", role: "dialog", "aria-labelledby": titleId, hidden: "" }, [
      el("div", { "class": "head" }, [el("h2", { id: titleId, text: TEXT.title }), closer]), form, stateBox
    ]);
    opener = el("button", { type: "button", "class": "btn open", "aria-expanded": "false", text: "☎ " + TEXT.open });
    root.appendChild(el("div", {}, [panel, opener]));

    opener.addEventListener("click", function () { toggle(panel.hidden); });
    closer.addEventListener("click", function () { toggle(false); });
    panel.addEventListener("keydown", function (event) { if (event.key === "Escape") toggle(false); });
    phone.addEventListener("input", function () { phone.value = mask(phone.value); clearError(); });
    form.addEventListener("submit", onSubmit);
  }

  function toggle(open) {
    panel.hidden = !open;
    opener.setAttribute("aria-expanded", String(open));
    if (open) (form.hidden ? panel.querySelector(".x") : phone).focus();
    else opener.focus();
  }

  // "+7 (912) 345-67-89" for +7 numbers (8 or 7 typed first is the trunk or country code). Elsewhere
  // the number as typed, in phone characters only: the server reads it in the site's region.
  function mask(value) {
    var digits = value.replace(/\D/g, "");
    var prefix = (config.phone_prefix || "").replace("+", "");
    if (prefix === "7") {
      if (/^[78]/.test(digits)) digits = digits.slice(1);
      digits = digits.slice(0, 10);
      if (!digits) return value.trim() === "+" ? "+" : "";
      var out = "+7 (" + digits.slice(0, 3);
      if (digits.length > 3) out += ") " + digits.slice(3, 6);
      if (digits.length > 6) out += "-" + digits.slice(6, 8);
      if (digits.length > 8) out += "-" + digits.slice(8, 10);
      return out;
    }
    return value.replace(/[^\d+()\s-]/g, "").slice(0, 24);
  }

  function phoneComplete() {
    var digits = phone.value.replace(/\D/g, "");
    return config.phone_prefix === "+7" ? digits.length === 11 : digits.length >= 6 && digits.length <= 15;
  }

  function showError(message, field) {
    error.textContent = message;
    if (field) { field.setAttribute("aria-invalid", "true"); field.focus(); }
  }

  function clearError() {
    error.textContent = "";
    [phone, consentBox].forEach(function (f) { if (f) f.removeAttribute("aria-invalid"); });
  }

  function onSubmit(event) {
    event.preventDefault();
    clearError();
    if (!phoneComplete()) return showError(TEXT.phoneBad, phone);
    if (consentBox && !consentBox.checked) return showError(TEXT.consentMissing, consentBox);
    if (preview) return showError(TEXT.preview);
    var body = { phone: phone.value, name: nameInput.value, page: location.href };
    body[config.honeypot_field] = hp.value;
    if (consentBox) {
      body.consent = true;
      if (config.consent_version !== null) body.consent_version = config.consent_version;
    }
    submit.disabled = true;
    submit.textContent = TEXT.sending;
    request("POST", "/api/v1/leads/", body, function (status, answer) {
      submit.disabled = false;
      submit.textContent = TEXT.submit;
      if (status === 201 && answer.status_token) return follow(answer.status_token);
      if (status === 200 && answer.duplicate) return show(TEXT.again, null);
      if (status === 429) return showError(TEXT.throttled);
      var fields = answer && typeof answer === "object" ? answer : {};
      if (fields.phone) return showError(TEXT.phoneBad, phone);
      if (fields.consent) return showError(String(fields.consent), consentBox);
      showError(TEXT.failed);
    });
  }

  var started = 0, ticker = null, poller = null;

  function follow(token) {
    started = Date.now();
    show(TEXT.waiting, true);
    ticker = setInterval(tick, 1000);
    var polls = 0;
    (function poll() {
      request("GET", "/api/v1/leads/status/?token=" + encodeURIComponent(token), null, function (status, answer) {
        var final = status === 404 || (status === 200 && render(answer));  // 404: the token expired
        if (!final && ++polls < 300) poller = setTimeout(poll, status === 429 ? 10000 : 2000);
      });
    })();
  }

  var lastState = null;

  // Shows a status answer; true when nothing more will change.
  function render(answer) {
    var state = answer.state, before = lastState;
    lastState = state;
    if (state === "waiting" || state === "calling") {
      if (before === "scheduled") started = Date.now();  // the timer counts this call, not the wait
      if (!ticker) ticker = setInterval(tick, 1000);
      show(state === "calling" ? TEXT.calling : TEXT.waiting, true);
      return false;
    }
    clearInterval(ticker);
    ticker = null;
    if (state === "scheduled") {
      show(TEXT.scheduled.replace("{time}", when(new Date(answer.next_call_at))), null);
      return false;
    }
    show(TEXT[state] || TEXT.closed, null);
    return true;
  }

  function when(date) {
    var time = date.toLocaleTimeString(lang, { hour: "2-digit", minute: "2-digit" });
    if (date.toDateString() === new Date().toDateString()) return time;
    return date.toLocaleDateString(lang, { weekday: "short", day: "numeric", month: "short" }) + ", " + time;
  }

  function show(message, timer) {
    form.hidden = true;
    stateBox.hidden = false;
    stateBox.textContent = "";
    stateBox.appendChild(el("p", { "class": "state", text: message }));
    if (timer) stateBox.appendChild(el("p", { "class": "timer", role: "timer", "aria-live": "off", text: elapsed() }));
  }

  function tick() {
    var timer = stateBox.querySelector(".timer");
    if (timer) timer.textContent = elapsed();
  }

  function elapsed() {
    var seconds = Math.max(0, Math.floor((Date.now() - started) / 1000));
    return Math.floor(seconds / 60) + ":" + ("0" + (seconds % 60)).slice(-2);
  }

  function request(method, path, body, done) {
    var xhr = new XMLHttpRequest();
    xhr.open(method, base + path);
    xhr.timeout = 15000;
    if (body) xhr.setRequestHeader("Content-Type", "application/json");
    xhr.onload = function () {
      var answer = null;
      try { answer = JSON.parse(xhr.responseText); } catch (e) { answer = null; }
      done(xhr.status, answer || {});
    };
    xhr.onerror = xhr.ontimeout = function () { done(0, {}); };
    xhr.send(body ? JSON.stringify(body) : null);
  }

  function start() {
    request("GET", "/api/v1/widget/config/?key=" + encodeURIComponent(siteKey), null, function (status, answer) {
      if (status !== 200) {
        if (window.console) console.warn("Leadcaller widget: unknown data-site-key", siteKey);
        return;
      }
      config = answer;
      build();
      var mount = preview && script.parentNode ? script.parentNode : document.body;
      mount.appendChild(host);
      if (preview) { panel.hidden = false; opener.setAttribute("aria-expanded", "true"); }
    });
  }

  if (document.body) start();
  else document.addEventListener("DOMContentLoaded", start);
})();
