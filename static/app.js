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

// A refused form (422) comes back with its errors and is swapped in like a success.
document.addEventListener("DOMContentLoaded", function () {
  htmx.config.responseHandling = [
    {code: "204", swap: false},
    {code: "[23]..", swap: true},
    {code: "422", swap: true, error: false},
    {code: "[45]..", swap: false, error: true},
  ];
});

// A form with data-confirm (全部审核通过, naming how many) asks before it is sent.
document.addEventListener("submit", function (event) {
  var form = event.target.closest("form[data-confirm]");
  var button = event.submitter;
  if (!form || (button && button.value !== "approve")) { return; }
  if (!window.confirm(form.dataset.confirm)) { event.preventDefault(); }
});

// A <select data-autosubmit> submits its form when changed.
document.addEventListener("change", function (event) {
  if (event.target.matches("select[data-autosubmit]")) { event.target.form.requestSubmit(); }
});

// --- the filing grid: Excel habits --------------------------------------------------------

function gridInput(row, column) {
  return row ? row.querySelector("input[data-col='" + column + "']") : null;
}

function nextUnitRow(row, step) {
  var rows = Array.prototype.slice.call(row.closest("table").querySelectorAll("tr.unit"));
  return rows[rows.indexOf(row) + step] || null;
}

// Where the current run of Tabs began: Enter at the end of a row returns there, one row down.
var tabRun = {row: null, col: 0};

// Enter moves down a row, Shift+Enter up, as in Excel (Tab already moves right). Enter in the
// last column goes to the next row, at the column where typing across began (the first column
// when there was no run of Tabs), as Excel does after Tab, Tab, Enter.
document.addEventListener("keydown", function (event) {
  var input = event.target;
  if (!input.matches("#filing-grid input[data-col]")) { return; }
  var row = input.closest("tr");
  if (event.key === "Tab" && !event.shiftKey && tabRun.row !== row) {
    tabRun = {row: row, col: input.dataset.col};
  }
  if (event.key !== "Enter") { return; }
  event.preventDefault();
  var last = !gridInput(row, Number(input.dataset.col) + 1);
  var column = input.dataset.col;
  if (last && !event.shiftKey) { column = tabRun.row === row ? tabRun.col : 0; }
  var next = nextUnitRow(row, event.shiftKey ? -1 : 1);
  var target = gridInput(next, column);
  if (target) {
    tabRun = {row: next, col: column};
    target.focus();
    target.select();
  }
});

// Pasting a block copied from Excel or WPS (tab-separated lines) fills the cells it covers,
// starting at the cell pasted into; each row it touches then saves itself.
document.addEventListener("paste", function (event) {
  var input = event.target;
  if (!input.matches("#filing-grid input[data-col]")) { return; }
  var text = (event.clipboardData || window.clipboardData).getData("text");
  if (text.indexOf("\t") < 0 && text.replace(/\r?\n$/, "").indexOf("\n") < 0) { return; }
  event.preventDefault();
  var lines = text.replace(/\r/g, "").replace(/\n$/, "").split("\n");
  var row = input.closest("tr");
  var start = Number(input.dataset.col);
  lines.forEach(function (line) {
    if (!row) { return; }
    line.split("\t").forEach(function (cell, offset) {
      var target = gridInput(row, start + offset);
      // thousands separators go only where they stand every three digits; the server refuses the rest
      var text = cell.trim();
      if (/^-?\d{1,3}([,，]\d{3})+$/.test(text)) { text = text.replace(/[,，]/g, ""); }
      if (target && !target.disabled) {
        target.value = text;
        target.classList.remove("carried");
      }
    });
    row.dispatchEvent(new Event("input", {bubbles: true}));
    row = nextUnitRow(row, 1);
  });
});

// After a row is saved, mark the cells the server found wrong or doubtful.
document.addEventListener("grid-cells", function (event) {
  var detail = event.detail;
  var row = document.getElementById("u-" + detail.unit);
  if (!row) { return; }
  row.querySelectorAll("input[data-col]").forEach(function (input) {
    input.classList.toggle("invalid", detail.invalid.indexOf(input.name) >= 0);
    input.classList.toggle("warned", detail.warned.indexOf(input.name) >= 0);
    input.setAttribute("aria-invalid", detail.invalid.indexOf(input.name) >= 0 ? "true" : "false");
  });
  row.classList.toggle("held", !!detail.held);
});

// A correction held for want of its 修改原因 goes again once the reason is typed: each held row
// re-sends itself (with the reason, which every row's save includes).
var reasonTimer = null;
document.addEventListener("input", function (event) {
  if (event.target.id !== "reason") { return; }
  clearTimeout(reasonTimer);
  reasonTimer = setTimeout(function () {
    if (!event.target.value.trim()) { return; }
    document.querySelectorAll("#filing-grid tr.unit.held").forEach(function (row) {
      row.dispatchEvent(new Event("input", {bubbles: true}));
    });
  }, 600);
});

// Going to a unit's row (a search result, a 待办 link #u-…, an error link, a held row) lands it just
// below the grid's sticky header, highlighted, with its first open cell focused.
function landOnRow(row, cell) {
  var wrap = row.closest(".grid-wrap");
  var head = row.closest("table").querySelector("thead");
  var headHeight = head ? head.getBoundingClientRect().height : 0;
  if (wrap && wrap.scrollHeight > wrap.clientHeight) {
    wrap.scrollIntoView({block: "nearest"});
    wrap.scrollTop += row.getBoundingClientRect().top - wrap.getBoundingClientRect().top - headHeight - 4;
  } else {
    // the page itself scrolls (phones): the header sticks at the top of the window
    window.scrollBy(0, row.getBoundingClientRect().top - headHeight - 4);
  }
  document.querySelectorAll("#filing-grid tr.landed").forEach(function (other) { other.classList.remove("landed"); });
  row.classList.add("landed");
  var input = cell || row.querySelector("input[data-col]:not([disabled])");
  if (input) {
    input.focus({preventScroll: true});
    if (input.select) { input.select(); }
  }
}

function landOnHash() {
  var hash = window.location.hash;
  if (hash.indexOf("#u-") !== 0) { return; }
  var row = document.getElementById(hash.slice(1));
  if (row && row.closest("#filing-grid")) { landOnRow(row); }
}
window.addEventListener("load", landOnHash);
window.addEventListener("hashchange", landOnHash);

document.addEventListener("click", function (event) {
  var link = event.target.closest("a[href*='#u-']");
  if (!link || link.closest("#submit-panel .summary")) { return; }
  var row = document.getElementById(link.hash.slice(1));
  if (!row || !row.closest("#filing-grid") || link.pathname !== window.location.pathname) { return; }
  event.preventDefault();
  history.replaceState(null, "", link.hash);
  landOnRow(row);
});

// A link of the submission summary lands in its cell, clear of the sticky header and selected, so
// that the right number is typed straight over the wrong one.
document.addEventListener("click", function (event) {
  var link = event.target.closest("#submit-panel .summary a[href^='#']");
  var target = link && document.getElementById(link.hash.slice(1));
  var input = target && (target.matches("input[data-col]") ? target : target.querySelector("input[data-col]"));
  if (!input || !input.closest("#filing-grid") || input.disabled) { return; }
  event.preventDefault();
  landOnRow(input.closest("tr"), input);
});

// A refused submission marks the cells its summary names (the page may have been reloaded since
// they were typed); saving the row again clears them through grid-cells.
document.addEventListener("htmx:afterSwap", function (event) {
  if (event.detail.target.id !== "submit-panel") { return; }
  [["invalid", ".summary[role=alert] a"], ["warned", ".summary.warnings a"]].forEach(function (kind) {
    document.querySelectorAll("#submit-panel " + kind[1]).forEach(function (link) {
      var input = document.getElementById(link.hash.slice(1));
      if (!input || !input.matches("#filing-grid input[data-col]")) { return; }
      input.classList.add(kind[0]);
      if (kind[0] === "invalid") { input.setAttribute("aria-invalid", "true"); }
    });
  });
});

// A file input shows the chosen file's name in its own Chinese words (see .file-pick).
document.addEventListener("change", function (event) {
  var input = event.target;
  if (!input.matches("input[type=file][data-file-name]")) { return; }
  var shown = document.getElementById(input.dataset.fileName);
  if (shown) { shown.textContent = input.files.length ? input.files[0].name : "未选择文件"; }
});

// A carried value (沿用上期) typed over is the filer's own: it loses the light style at once.
document.addEventListener("input", function (event) {
  if (event.target.matches("#filing-grid input.carried")) {
    event.target.classList.remove("carried");
    event.target.removeAttribute("title");
  }
});

// 打印: the print stylesheet lays the whole table out on A4 landscape.
document.addEventListener("click", function (event) {
  if (event.target.closest("[data-print]")) { window.print(); }
});

// The printed grid shows each count with thousands separators, as its subtotals are printed.
window.addEventListener("beforeprint", function () {
  document.querySelectorAll("#filing-grid input[data-col]").forEach(function (input) {
    var shown = input.parentNode.querySelector(".print-value");
    if (!shown) {
      shown = document.createElement("span");
      shown.className = "print-value";
      input.parentNode.appendChild(shown);
    }
    var text = input.value.trim();
    shown.textContent = /^\d+$/.test(text) ? Number(text).toLocaleString("en-US") : text;
  });
});
window.addEventListener("afterprint", function () {
  document.querySelectorAll("#filing-grid .print-value").forEach(function (span) { span.remove(); });
});

// The printed footer shows what the footer fields hold now, typed or not yet submitted.
window.addEventListener("beforeprint", function () {
  document.querySelectorAll("[data-print-of]").forEach(function (span) {
    var field = document.getElementById(span.dataset.printOf);
    if (field) { span.textContent = field.value; }
  });
});
