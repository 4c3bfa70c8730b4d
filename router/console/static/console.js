// switchyard console: optional niceties; every page works without them.
document.addEventListener("DOMContentLoaded", () => {
  for (const all of document.querySelectorAll("input.select-all")) {
    all.hidden = false;
    all.addEventListener("change", () => {
      for (const box of all.form.querySelectorAll('input[name="seq"]')) box.checked = all.checked;
    });
  }
  for (const button of document.querySelectorAll("button[data-confirm]")) {
    button.addEventListener("click", (e) => {
      if (!window.confirm(button.dataset.confirm)) e.preventDefault();
    });
  }
});
