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
document.addEventListener("submit", function (event) {
  var message = event.target.getAttribute("data-confirm");
  if (message && !window.confirm(message)) { event.preventDefault(); }
});
// htmx requests carry the CSRF token.
document.addEventListener("htmx:configRequest", function (event) {
  var token = document.querySelector("meta[name=csrf-token]");
  if (token) { event.detail.headers["X-CSRFToken"] = token.content; }
});
