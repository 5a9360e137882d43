// The view page (/v/{id}, Features/Web/ViewPages.cs): a copy button beside each share field. The buttons are in the page
// but hidden, so that without script nothing offers to do what cannot be done.
"use strict";

(() => {
  for (const button of document.querySelectorAll("button[data-copy]")) {
    const input = document.getElementById(button.dataset.copy);
    if (!input) {
      continue;
    }
    button.hidden = false;
    const label = button.firstChild;
    button.addEventListener("click", async () => {
      const copied = await window.Imagebin.copy(input.value, input);
      label.textContent = copied ? "Copied" : "Press Ctrl+C";
      setTimeout(() => { label.textContent = "Copy"; }, 2000);
    });
  }
})();
