// The queue's filters (templates/cases/queue.html) are open on a wide screen; on a narrow one they are
// closed when the page loads, so the cases come first and the filters are one tap on "Filters" away.
// Without script they stay open: nothing is hidden from anyone.
(function () {
  if (!window.matchMedia("(max-width: 700px)").matches) return;
  document.querySelectorAll("details[data-close-narrow]").forEach(function (details) {
    details.open = false;
  });
})();
