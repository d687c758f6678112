// The case page follows its case (cases/live.py): the element marked data-live-poll asks every
// few seconds whether the case changed, and the page's fragments are swapped when it did.
// A refresh would throw away what someone is typing or close the form they opened, so while
// they work in a form on the page the poll is skipped; it resumes once they send or close it.
(function () {
  function changed(field) {
    if (field.type === "hidden" || field.type === "submit" || field.type === "button") return false;
    if (field.type === "checkbox" || field.type === "radio") return field.checked !== field.defaultChecked;
    if (field.tagName === "SELECT") {
      // With no option marked selected in the page, the browser shows the first (or none, for a multiple).
      const options = Array.from(field.options);
      const marked = options.some(function (option) { return option.defaultSelected; });
      return options.some(function (option, i) {
        const initially = marked ? option.defaultSelected : !field.multiple && i === 0;
        return option.selected !== initially;
      });
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
