// A login that lapsed while a page was open (idle timeout, signed out from another device): an
// htmx request then gets a 401. Say so in a banner, keep what the grid rows held, and after the
// next login put those values back into their rows, which then save themselves.
"use strict";

(function () {
  var KEY = "unsaved:" + location.pathname;

  function kept() {
    try { return JSON.parse(sessionStorage.getItem(KEY)) || {rows: {}}; } catch (e) { return {rows: {}}; }
  }

  function keep(state) {
    if (Object.keys(state.rows).length) { sessionStorage.setItem(KEY, JSON.stringify(state)); }
    else { sessionStorage.removeItem(KEY); }
  }

  function names(state) {
    return Object.keys(state.rows).map(function (code) { return state.rows[code].name; }).join("、");
  }

  function banner(text, withLogin) {
    var box = document.getElementById("session-banner");
    if (!box) {
      box = document.createElement("div");
      box.id = "session-banner";
      box.className = "flash";
      box.setAttribute("role", "alert");
      document.querySelector("main").prepend(box);
    }
    box.textContent = text;
    if (withLogin) {
      var link = document.createElement("a");
      link.href = document.querySelector("main").dataset.loginUrl + "?next=" + encodeURIComponent(location.pathname + location.search);
      link.textContent = "重新登录";
      box.append(" ", link);
    }
  }

  // handled here rather than as an htmx error, which would only be written to the console
  document.addEventListener("DOMContentLoaded", function () {
    htmx.config.responseHandling.unshift({code: "401", swap: false, error: false});
  });

  document.addEventListener("htmx:afterRequest", function (event) {
    if (!event.detail.xhr || event.detail.xhr.status !== 401) { return; }
    var elt = event.detail.elt;
    var row = elt && elt.closest ? elt.closest("#filing-grid tr.unit") : null;
    var state = kept();
    if (row) {
      var values = {};
      row.querySelectorAll("input[data-col]").forEach(function (input) { values[input.name] = input.value; });
      state.rows[row.dataset.unit] = {name: row.querySelector(".name").textContent.trim(), values: values};
      var reason = document.getElementById("reason");
      if (reason && reason.value) { state.reason = reason.value; }
      keep(state);
      var message = document.getElementById("msg-" + row.dataset.unit);
      if (message) { message.innerHTML = '<span class="badge red">未保存</span>'; }
    }
    var count = Object.keys(state.rows).length;
    banner(count ? "登录已失效，以下" + count + "行的修改未保存：" + names(state) +
                   "。重新登录后将自动填回并保存。"
                 : "登录已失效，刚才的操作未完成，请重新登录。", true);
  });

  // After the login: the kept rows go back into the grid and save themselves, one by one.
  document.addEventListener("DOMContentLoaded", function () {
    var state = kept();
    var codes = Object.keys(state.rows);
    if (!codes.length || !document.getElementById("filing-grid")) { return; }
    var reason = document.getElementById("reason");
    if (reason && !reason.value && state.reason) { reason.value = state.reason; }
    codes.forEach(function (code) {
      var row = document.getElementById("u-" + code);
      var inputs = row ? row.querySelectorAll("input[data-col]:not([disabled])") : [];
      if (!inputs.length) { return; }
      inputs.forEach(function (input) {
        if (input.name in state.rows[code].values) { input.value = state.rows[code].values[input.name]; }
      });
      row.dispatchEvent(new Event("input", {bubbles: true}));
    });
    banner("已填回登录失效前未保存的" + codes.length + "行：" + names(state) + "，正在保存……", false);
  });

  document.addEventListener("htmx:afterRequest", function (event) {
    var row = event.detail.elt;
    var status = event.detail.xhr ? event.detail.xhr.status : 0;
    if (status < 200 || status > 299 || !row.matches || !row.matches("#filing-grid tr.unit")) { return; }
    var state = kept();
    if (!(row.dataset.unit in state.rows)) { return; }
    delete state.rows[row.dataset.unit];
    keep(state);
    if (!Object.keys(state.rows).length) { banner("登录失效前未保存的修改已全部保存。", false); }
  });
}());
