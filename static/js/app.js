// Small dashboard behaviours; htmx does the rest.
document.addEventListener("click", function (event) {
  var toggle = event.target.closest("[data-toggle-menu]");
  if (toggle) { document.querySelector(".sidebar").classList.toggle("open"); }
  var copy = event.target.closest("[data-copy]");
  if (copy) {
    var text = document.querySelector(copy.getAttribute("data-copy")).textContent.trim();
    if (navigator.clipboard) { navigator.clipboard.writeText(text); }
    copy.textContent = "Copied";
  }
});
// Filters that apply as soon as they change, and "select all" boxes (no inline handlers: the
// Content-Security-Policy allows only scripts served from here).
document.addEventListener("change", function (event) {
  if (event.target.matches("[data-autosubmit]")) { event.target.form.submit(); }
  var all = event.target.closest("[data-select-all]");
  if (all) {
    document.querySelectorAll(all.getAttribute("data-select-all")).forEach(function (box) { box.checked = all.checked; });
  }
});
document.addEventListener("submit", function (event) {
  // on the form, or on the button that submitted it ("Remove" beside "Save" in one form)
  var button = event.submitter;
  var message = (button && button.getAttribute("data-confirm")) || event.target.getAttribute("data-confirm");
  if (message && !window.confirm(message)) { event.preventDefault(); }
});
// htmx requests carry the CSRF token.
document.addEventListener("htmx:configRequest", function (event) {
  var token = document.querySelector("meta[name=csrf-token]");
  if (token) { event.detail.headers["X-CSRFToken"] = token.content; }
});
// Phones: stacked table rows label each cell with its column's header (CSS shows data-label).
function labelTableCells(root) {
  root.querySelectorAll("table.list").forEach(function (table) {
    var heads = [];
    table.querySelectorAll("thead th").forEach(function (th) {
      for (var i = 0; i < (th.colSpan || 1); i++) { heads.push(th.getAttribute("data-label") || th.textContent.trim()); }
    });
    if (!heads.length) { return; }
    table.querySelectorAll("tbody tr").forEach(function (tr) {
      var column = 0;
      Array.prototype.forEach.call(tr.children, function (cell) {
        if (!cell.hasAttribute("data-label") && heads[column] !== undefined && cell.colSpan === 1) {
          cell.setAttribute("data-label", heads[column]);
        }
        column += cell.colSpan || 1;
      });
    });
  });
}
document.addEventListener("DOMContentLoaded", function () { labelTableCells(document); });
document.addEventListener("htmx:afterSettle", function () { labelTableCells(document); });
// Live-refreshed lists keep what the user ticked: the refresh replaces the rows, not the selection.
document.addEventListener("htmx:beforeSwap", function (event) {
  var target = event.detail.target;
  if (!target.hasAttribute || !target.hasAttribute("data-keep-checked")) { return; }
  target._checked = Array.prototype.map.call(target.querySelectorAll("input[type=checkbox]:checked"),
    function (box) { return box.name + "=" + box.value; });
});
document.addEventListener("htmx:afterSwap", function (event) {
  var target = event.detail.target;
  if (!target._checked) { return; }
  target.querySelectorAll("input[type=checkbox]").forEach(function (box) {
    if (target._checked.indexOf(box.name + "=" + box.value) !== -1) { box.checked = true; }
  });
});
// Time zones (issue 15): the login form sends this browser's zone (a first login adopts it); the
// profile offers a button that fills the field with it.
document.addEventListener("DOMContentLoaded", function () {
  var zone = "";
  try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (e) { zone = ""; }
  document.querySelectorAll("input[data-browser-zone]").forEach(function (input) { input.value = zone; });
  document.querySelectorAll("[data-browser-zone-fill]").forEach(function (button) {
    if (!zone) { return; }
    button.hidden = false;
    button.textContent = "Use this device's zone (" + zone + ")";
    button.addEventListener("click", function () {
      document.querySelector(button.getAttribute("data-browser-zone-fill")).value = zone;
    });
  });
});
