// Copy buttons (portal guide, case page): each copies the text of the element named by data-copy to the clipboard.
// Delegated from the document, so buttons swapped in by htmx work too; loaded once even when included twice.
(function () {
  if (window.paCopyReady) return;
  window.paCopyReady = true;
  document.addEventListener("click", function (event) {
    const button = event.target.closest("button[data-copy]");
    if (!button) return;
    const source = document.getElementById(button.dataset.copy);
    if (!source) return;
    const label = button.dataset.label || button.textContent;
    button.dataset.label = label;
    const done = function (text) {
      button.textContent = text;
      setTimeout(function () { button.textContent = label; }, 1500);
    };
    if (!navigator.clipboard) { done("Select and copy"); return; }
    navigator.clipboard.writeText(source.textContent.trim()).then(
      function () { done("Copied"); },
      function () { done("Select and copy"); }
    );
  });
})();
