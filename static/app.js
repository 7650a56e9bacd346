// Small behaviours the pages need; kept out of the HTML so that a strict CSP holds.
"use strict";

// A tree toggle loads its children once, then only shows or hides them.
document.addEventListener("click", function (event) {
  var button = event.target.closest("[data-toggle-once]");
  if (!button || !button.dataset.loaded) { return; }
  event.preventDefault();
  event.stopImmediatePropagation();
  var target = document.querySelector(button.getAttribute("hx-target"));
  var open = !target.hidden;
  target.hidden = open;
  button.textContent = open ? "＋" : "－";
}, true);

document.addEventListener("htmx:afterSwap", function (event) {
  var button = event.detail.requestConfig && event.detail.requestConfig.elt;
  if (button && button.matches && button.matches("[data-toggle-once]")) {
    button.dataset.loaded = "1";
    button.textContent = "－";
  }
});
