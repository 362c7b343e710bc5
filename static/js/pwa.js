// The installable app: registers the service worker (/sw.js, scope /) on every page, and the
// "Enable push on this device" button of the profile (docs/push.md). No inline script: the
// Content-Security-Policy allows only scripts served from here.
(function () {
  "use strict";

  function supported() {
    return "serviceWorker" in navigator && "PushManager" in window && "Notification" in window;
  }

  function register() {
    return navigator.serviceWorker.register("/sw.js", { scope: "/" });
  }

  if ("serviceWorker" in navigator) {
    window.addEventListener("load", function () {
      register().catch(function () { /* no service worker (e.g. plain http on a LAN name): still a web page */ });
    });
  }

  // The applicationServerKey wants bytes: the VAPID public key comes as base64url.
  function keyBytes(base64url) {
    var padded = base64url.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((base64url.length + 3) % 4);
    var raw = window.atob(padded);
    var bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i += 1) { bytes[i] = raw.charCodeAt(i); }
    return bytes;
  }

  function guessName() {
    var ua = navigator.userAgent;
    var browser = /Edg\//.test(ua) ? "Edge" : /Firefox\//.test(ua) ? "Firefox" : /Chrome\//.test(ua) ? "Chrome"
      : /Safari\//.test(ua) ? "Safari" : "Browser";
    var system = /Android/.test(ua) ? "Android" : /iPhone|iPad/.test(ua) ? "iOS" : /Mac OS X/.test(ua) ? "macOS"
      : /Windows/.test(ua) ? "Windows" : /Linux/.test(ua) ? "Linux" : "";
    return system ? browser + " on " + system : browser;
  }

  // What the service worker needs to renew this device's subscription when the push service
  // replaces it (pushsubscriptionchange, static/js/sw.js): the endpoint the server knows, the
  // renewal token it answered (single use, only its hash is on the server), where to send it, and
  // the VAPID key to subscribe with again. Kept in this origin's Cache Storage, which the worker reads.
  var RENEWAL_CACHE = "ilert-push-renewal", RENEWAL_KEY = "/__ilert/push-renewal";
  function keepRenewal(value) {
    if (!("caches" in window)) { return Promise.resolve(); }
    return caches.open(RENEWAL_CACHE).then(function (cache) {
      return cache.put(RENEWAL_KEY, new Response(JSON.stringify(value), { headers: { "Content-Type": "application/json" } }));
    });
  }

  function csrfToken() {
    var meta = document.querySelector("meta[name=csrf-token]");
    return meta ? meta.content : "";
  }

  function say(box, text, bad) {
    var status = box.querySelector("[data-webpush-status]");
    status.textContent = text;
    status.classList.toggle("error-text", Boolean(bad));
  }

  // The panel arrives by htmx: prepare it whenever it appears.
  function prepare(root) {
    (root.querySelectorAll ? root : document).querySelectorAll("[data-webpush]").forEach(function (box) {
      var name = box.querySelector("[data-webpush-name]");
      if (name && !name.value) { name.value = guessName(); }
      if (!supported()) {
        box.querySelector("[data-webpush-enable]").disabled = true;
        say(box, /iPhone|iPad/.test(navigator.userAgent)
          ? "Add ilert to the Home Screen (Share → Add to Home Screen), open it from there and enable push."
          : "This browser cannot receive push notifications.", true);
      } else if (Notification.permission === "denied") {
        say(box, "Notifications are blocked for this site: allow them in the browser's site settings.", true);
      }
    });
  }
  document.addEventListener("DOMContentLoaded", function () { prepare(document); });
  document.addEventListener("htmx:afterSwap", function (event) { prepare(event.target); });

  async function enable(box) {
    var button = box.querySelector("[data-webpush-enable]");
    button.disabled = true;
    say(box, "Asking for permission…");
    try {
      var permission = await Notification.requestPermission();
      if (permission !== "granted") {
        say(box, "Notifications were not allowed, so push stays off on this device.", true);
        return;
      }
      say(box, "Subscribing…");
      await register();
      var registration = await navigator.serviceWorker.ready;
      var subscription = await registration.pushManager.getSubscription();
      if (subscription === null) {
        subscription = await registration.pushManager.subscribe({
          userVisibleOnly: true, applicationServerKey: keyBytes(box.getAttribute("data-vapid-key")),
        });
      }
      var json = subscription.toJSON();
      var name = box.querySelector("[data-webpush-name]");
      var response = await fetch(box.getAttribute("data-subscribe-url"), {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
        body: JSON.stringify({ endpoint: json.endpoint, keys: json.keys, device_name: name ? name.value : "" }),
      });
      var answer = await response.json().catch(function () { return {}; });
      if (!response.ok) {
        say(box, answer.message || "The server refused this subscription (" + response.status + ").", true);
        return;
      }
      if (answer.renewal_token) {
        await keepRenewal({ endpoint: json.endpoint, token: answer.renewal_token, renew_url: answer.renew_url,
                            vapid_key: box.getAttribute("data-vapid-key") });
      }
      var done = answer.created ? "Push is on for this device. Use it in your notification rules below."
        : "Push was already on for this device; its subscription is refreshed.";
      say(box, done);
      // Show the new device in the list and in the rule form's choices, then say it again there.
      if (window.htmx && box.getAttribute("data-panel-url")) {
        await window.htmx.ajax("GET", box.getAttribute("data-panel-url"),
          { target: "#notification-settings", swap: "outerHTML" });
        var fresh = document.querySelector("[data-webpush]");
        if (fresh) { say(fresh, done); }
      }
    } catch (error) {
      say(box, "Could not enable push: " + (error && error.message ? error.message : error), true);
    } finally {
      button.disabled = false;
    }
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-webpush-enable]");
    if (button) { enable(button.closest("[data-webpush]")); }
  });
}());
