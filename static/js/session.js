// Automatic logoff warning (priorauth.security.SessionLifetimeMiddleware).
// The server signs a session out after SESSION_IDLE_SECONDS without a person's request; background polls
// (header X-Background-Poll: 1) do not count. This shows a warning a minute before and, at the end, reloads
// the page so the server's sign-out takes the window to the sign-in page (another tab's activity may have
// kept the session: then the reload simply shows the page again).
(function () {
  "use strict";
  var meta = document.querySelector('meta[name="session-idle-seconds"]');
  var box = document.getElementById("idle-warning");
  var form = document.getElementById("idle-keepalive");
  if (!meta || !box || !form) return;
  var idleMs = parseInt(meta.content, 10) * 1000;
  var warnMs = Math.max(idleMs - 60 * 1000, 0);
  var warnTimer = null;
  var endTimer = null;

  function restart() {
    box.hidden = true;
    clearTimeout(warnTimer);
    clearTimeout(endTimer);
    warnTimer = setTimeout(function () { box.hidden = false; }, warnMs);
    endTimer = setTimeout(function () { window.location.reload(); }, idleMs + 1000);
  }

  function isPoll(detail) {
    var headers = (detail && detail.requestConfig && detail.requestConfig.headers) || {};
    return headers["X-Background-Poll"] === "1";
  }

  document.body.addEventListener("htmx:afterRequest", function (evt) {
    if (!isPoll(evt.detail)) restart();
  });

  form.addEventListener("submit", function (evt) {
    evt.preventDefault();
    fetch(form.action, {
      method: "POST",
      body: new FormData(form),
      credentials: "same-origin",
      headers: { "X-Requested-With": "fetch" }
    }).then(function (response) {
      if (response.ok && (response.headers.get("Content-Type") || "").indexOf("application/json") === 0) {
        restart();
      } else {
        window.location.reload();
      }
    }, function () { window.location.reload(); });
  });

  restart();
})();
