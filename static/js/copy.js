// Copy buttons on the portal guide: each copies its field's value to the clipboard.
document.addEventListener("click", function (event) {
  const button = event.target.closest("button[data-copy]");
  if (!button) return;
  const value = document.getElementById(button.dataset.copy).textContent;
  navigator.clipboard.writeText(value).then(function () {
    button.textContent = "Copied";
    setTimeout(function () { button.textContent = "Copy"; }, 1500);
  });
});
