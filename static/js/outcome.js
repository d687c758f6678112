// The outcome form shows only the fields of the chosen outcome (no denial reason for an approval).
// Progressive enhancement: without this script every field shows, and the server drops the ones that do not apply.
(function () {
  if (window.paOutcomeReady) return;
  window.paOutcomeReady = true;
  function apply(form) {
    const select = form.querySelector("select[name=outcome]");
    if (!select) return;
    form.querySelectorAll("[data-outcomes]").forEach(function (field) {
      const show = field.dataset.outcomes.split(" ").indexOf(select.value) !== -1;
      field.hidden = !show;
      field.querySelectorAll("input, select, textarea").forEach(function (input) { input.disabled = !show; });
    });
  }
  function applyAll() { document.querySelectorAll("form.outcome-form").forEach(apply); }
  document.addEventListener("change", function (event) {
    const form = event.target.closest("form.outcome-form");
    if (form && event.target.name === "outcome") apply(form);
  });
  document.addEventListener("DOMContentLoaded", applyAll);
  document.addEventListener("htmx:afterSettle", applyAll);  // the form comes back in swapped fragments
  applyAll();
})();
