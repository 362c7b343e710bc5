// Schedules: add places to a rotation, and drag across the overrides band to prefill an override.
(function () {
  document.addEventListener("click", function (event) {
    var add = event.target.closest("[data-add-slot]");
    if (!add) { return; }
    var list = document.getElementById(add.getAttribute("data-add-slot"));
    var items = list.querySelectorAll("li");
    var clone = items[items.length - 1].cloneNode(true);
    var select = clone.querySelector("select");
    select.value = "";
    clone.querySelector("span").textContent = (items.length + 1) + ".";
    select.setAttribute("aria-label", "Rotation place " + (items.length + 1));
    list.appendChild(clone);
  });

  var grid = document.querySelector(".sched-grid");
  var form = document.getElementById("override-form");
  if (!grid || !form) { return; }
  var windowStart = Number(grid.dataset.windowStart);
  var windowEnd = Number(grid.dataset.windowEnd);
  // The form reads its times in the schedule's zone, whichever zone the timeline shows.
  var zone = grid.dataset.scheduleZone;
  var SNAP = 30 * 60 * 1000;

  function wallClock(ms) {
    // "YYYY-MM-DDTHH:MM" on the wall clock of the schedule's zone.
    var parts = {};
    new Intl.DateTimeFormat("en-CA", {
      timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit", hourCycle: "h23"
    }).formatToParts(new Date(ms)).forEach(function (p) { parts[p.type] = p.value; });
    return parts.year + "-" + parts.month + "-" + parts.day + "T" + parts.hour + ":" + parts.minute;
  }

  function instantAt(track, clientX) {
    var box = track.getBoundingClientRect();
    var fraction = Math.min(1, Math.max(0, (clientX - box.left) / box.width));
    var ms = windowStart + fraction * (windowEnd - windowStart);
    return Math.round(ms / SNAP) * SNAP;
  }

  document.querySelectorAll(".sched-track[data-drag]").forEach(function (track) {
    var from = null, marker = null;
    function paint(a, b) {
      var lo = Math.min(a, b), hi = Math.max(a, b);
      marker.style.left = ((lo - windowStart) / (windowEnd - windowStart) * 100) + "%";
      marker.style.width = ((hi - lo) / (windowEnd - windowStart) * 100) + "%";
    }
    track.addEventListener("mousedown", function (event) {
      event.preventDefault();
      from = instantAt(track, event.clientX);
      marker = document.createElement("span");
      marker.className = "sched-selection";
      track.appendChild(marker);
      paint(from, from);
    });
    track.addEventListener("mousemove", function (event) {
      if (from !== null) { paint(from, instantAt(track, event.clientX)); }
    });
    document.addEventListener("mouseup", function (event) {
      if (from === null) { return; }
      var to = instantAt(track, event.clientX);
      var lo = Math.min(from, to), hi = Math.max(from, to);
      from = null;
      if (hi - lo < SNAP) { marker.remove(); return; }
      form.querySelector("[name=start]").value = wallClock(lo);
      form.querySelector("[name=end]").value = wallClock(hi);
      form.scrollIntoView({ behavior: "smooth", block: "center" });
      form.querySelector("[name=user]").focus();
    });
  });
})();
