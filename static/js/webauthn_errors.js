// django-allauth's WebAuthn script only logs a refused or failed key to the console (an `allauth.error` event nobody
// sees): show the person what happened, at the top of the page, in words they can act on.
(function () {
  if (window.paWebauthnErrorsReady) return;
  window.paWebauthnErrorsReady = true;
  const WORDS = {
    NotAllowedError: "The security key or passkey was not used: the request was cancelled or timed out. Try again.",
    InvalidStateError: "This security key or passkey is already registered to your account.",
    SecurityError: "This browser refuses security keys and passkeys on this address. Open the app over https " +
      "(or at http://localhost on your own computer) and try again.",
    NotSupportedError: "This browser or device does not support security keys or passkeys. Use an authenticator " +
      "app instead.",
  };
  document.addEventListener("allauth.error", function (event) {
    const tags = (event.detail && event.detail.tags) || [];
    if (tags.indexOf("webauthn") === -1) return;
    event.preventDefault();
    const error = event.detail.exception || {};
    const text = WORDS[error.name] || "The security key or passkey did not work (" + (error.name || "error") + "). Try again.";
    let box = document.getElementById("webauthn-error");
    if (!box) {
      box = document.createElement("p");
      box.id = "webauthn-error";
      box.className = "error";
      box.setAttribute("role", "alert");
      const main = document.getElementById("main") || document.body;
      main.insertBefore(box, main.firstChild);
    }
    box.textContent = text;
  });
})();
