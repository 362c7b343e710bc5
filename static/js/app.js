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
  var message = event.target.getAttribute("data-confirm");
  if (message && !window.confirm(message)) { event.preventDefault(); }
});
// htmx requests carry the CSRF token.
document.addEventListener("htmx:configRequest", function (event) {
  var token = document.querySelector("meta[name=csrf-token]");
  if (token) { event.detail.headers["X-CSRFToken"] = token.content; }
});
