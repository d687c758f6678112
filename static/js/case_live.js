// The case page follows its case (cases/live.py): the element marked data-live-poll asks every
// few seconds whether the case changed, and the page's fragments are swapped when it did.
// A refresh would throw away what someone is typing or close the form they opened, so while
// they work in a form on the page the poll is skipped; it resumes once they send or close it.
(function () {
  function changed(field) {
    if (field.type === "hidden" || field.type === "submit" || field.type === "button") return false;
    if (field.type === "checkbox" || field.type === "radio") return field.checked !== field.defaultChecked;
    if (field.tagName === "SELECT") {
      for (const option of field.options) {
        if (option.selected !== option.defaultSelected) return true;
      }
      return false;
    }
    if (field.type === "file") return Boolean(field.value);
    return field.value !== field.defaultValue;
  }

  function working(root) {
    if (!root) return false;
    if (root.querySelector("details[open] form")) return true;
    const active = document.activeElement;
    if (active && root.contains(active) && /^(INPUT|TEXTAREA|SELECT)$/.test(active.tagName)) return true;
    return Array.from(root.querySelectorAll("input, textarea, select")).some(changed);
  }

  document.addEventListener("htmx:confirm", function (event) {
    const elt = event.detail.elt;
    if (!elt || !elt.hasAttribute || !elt.hasAttribute("data-live-poll")) return;
    if (working(document.getElementById("main"))) event.preventDefault();
  });
})();
