// Uptime monitor form: show only the fields of the chosen check type.
(function () {
  function sync(form) {
    var select = form.querySelector("select[name=check_type]");
    if (!select) { return; }
    form.querySelectorAll(".check-specific").forEach(function (box) {
      var kinds = (box.getAttribute("data-check-types") || "").split(" ");
      box.hidden = kinds.indexOf(select.value) === -1;
    });
  }
  function init() {
    document.querySelectorAll("[data-check-form]").forEach(function (form) {
      sync(form);
      form.addEventListener("change", function (event) {
        if (event.target.name === "check_type") { sync(form); }
      });
    });
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", init); } else { init(); }
})();
