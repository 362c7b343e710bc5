// The ilert service worker (served as /sw.js by ilert/pwa.py, which puts `self.ILERT` — the cache
// name, the offline page and the shell files — in front of this file). docs/push.md.
//
// Caching: only the static shell and the offline page, never a page, an incident or an API answer,
// so nothing one user saw can be shown to another. Navigations go to the network; when it fails
// the offline page is shown. Old caches are deleted when a new worker activates.
//
// Push: the payload is JSON from notifications/channels/webpush.py. A page shows Accept / Resolve /
// Escalate where the platform shows action buttons; an action posts the signed, single-use token to
// the server (no login needed) and says the outcome in a new notification; tapping the
// notification itself opens the incident page (on iOS, which shows no buttons, that page has them).
//
// Renewal: when the push service replaces the subscription (pushsubscriptionchange), the worker
// subscribes again with the same VAPID key and moves this device's contact method to the new
// subscription, authenticated by the old endpoint and the single-use renewal token the server gave
// when push was enabled (kept by pwa.js in Cache Storage); the answer's next token replaces it.
"use strict";

var CONFIG = self.ILERT || { cache: "ilert-shell", offline: "/offline", shell: [] };
var SHELL = CONFIG.shell.concat([CONFIG.offline]);

self.addEventListener("install", function (event) {
  event.waitUntil(
    caches.open(CONFIG.cache)
      // `credentials: "omit"`: the shell is the same for everyone; no cookie goes, none comes back.
      .then(function (cache) { return cache.addAll(SHELL.map(function (url) { return new Request(url, { credentials: "omit" }); })); })
      .then(function () { return self.skipWaiting(); })
  );
});

self.addEventListener("activate", function (event) {
  event.waitUntil(
    caches.keys()
      .then(function (names) {
        return Promise.all(names.filter(function (name) { return name.indexOf("ilert-shell") === 0 && name !== CONFIG.cache; })
          .map(function (name) { return caches.delete(name); }));
      })
      .then(function () { return self.clients.claim(); })
  );
});

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") { return; }
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) { return; }
  if (request.mode === "navigate") {
    // Always the network (pages are per user and live); the offline page only when it fails.
    event.respondWith(fetch(request).catch(function () {
      return caches.match(CONFIG.offline, { cacheName: CONFIG.cache });
    }));
    return;
  }
  if (SHELL.indexOf(url.pathname) !== -1) {
    event.respondWith(caches.match(url.pathname, { cacheName: CONFIG.cache }).then(function (hit) {
      return hit || fetch(request);
    }));
  }
  // Everything else (API answers, fragments, incident data) is left to the network, uncached.
});

function parse(event) {
  if (!event.data) { return null; }
  try { return event.data.json(); } catch (error) { return { title: "ilert", body: event.data.text() }; }
}

// Desktop Chrome shows two buttons (Notification.maxActions): then Accept and Escalate, the answers
// that cannot wait; Resolve is one tap away on the incident page.
var KEEP = ["accept", "escalate", "resolve"];
function fit(actions) {
  var room = (self.Notification && Notification.maxActions) || actions.length;
  if (actions.length <= room) { return actions; }
  var kept = KEEP.slice(0, room);
  return actions.filter(function (a) { return kept.indexOf(a.action) !== -1; });
}

self.addEventListener("push", function (event) {
  var data = parse(event) || { title: "ilert", body: "Open ilert." };
  var high = data.priority === "HIGH";
  var options = {
    body: data.body || "",
    tag: data.tag || undefined,
    icon: "/static/icons/icon-192.png",
    badge: "/static/icons/badge-96.png",
    renotify: Boolean(data.tag),
    requireInteraction: data.kind === "page",
    vibrate: high ? [300, 100, 300, 100, 300] : [200],
    data: { url: data.url || "/", token: data.token || "", action_url: data.action_url || "" },
    actions: fit(data.actions || []),
  };
  event.waitUntil(self.registration.showNotification(data.title || "ilert", options));
});

// An action button: answered on the server with the push's token, whatever window is open.
function act(data, action) {
  return fetch(data.action_url, {
    method: "POST", credentials: "omit", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ token: data.token, action: action }),
  }).then(function (response) {
    return response.json().catch(function () { return {}; }).then(function (answer) {
      return self.registration.showNotification(response.ok ? "ilert" : "ilert: not done", {
        body: answer.message || ("The server answered " + response.status + "."),
        tag: "ilert-answer", icon: "/static/icons/icon-192.png", badge: "/static/icons/badge-96.png",
        data: { url: data.url || "/" },
      });
    });
  }).catch(function () {
    return self.registration.showNotification("ilert: not done", {
      body: "No connection: open the incident to answer.", tag: "ilert-answer", data: { url: data.url || "/" },
    });
  });
}

function open(url) {
  var target = new URL(url || "/", self.location.origin).href;
  return self.clients.matchAll({ type: "window", includeUncontrolled: true }).then(function (windows) {
    for (var i = 0; i < windows.length; i += 1) {
      if ("focus" in windows[i] && windows[i].url === target) { return windows[i].focus(); }
    }
    return self.clients.openWindow(target);
  });
}

// Kept on `self` so the handling can be read (and driven) as one function.
self.ilertNotificationClick = function (notification, action) {
  var data = notification.data || {};
  notification.close();
  if (action && data.token && data.action_url) { return act(data, action); }
  return open(data.url);
};

self.addEventListener("notificationclick", function (event) {
  event.waitUntil(self.ilertNotificationClick(event.notification, event.action));
});

// --- pushsubscriptionchange --------------------------------------------------------------------

var RENEWAL_CACHE = "ilert-push-renewal", RENEWAL_KEY = "/__ilert/push-renewal";  // as in pwa.js

function readRenewal() {
  return caches.open(RENEWAL_CACHE).then(function (cache) { return cache.match(RENEWAL_KEY); })
    .then(function (hit) { return hit ? hit.json() : null; });
}

function keepRenewal(value) {
  return caches.open(RENEWAL_CACHE).then(function (cache) {
    return cache.put(RENEWAL_KEY, new Response(JSON.stringify(value), { headers: { "Content-Type": "application/json" } }));
  });
}

function keyBytes(base64url) {
  var padded = base64url.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((base64url.length + 3) % 4);
  var raw = atob(padded);
  var bytes = new Uint8Array(raw.length);
  for (var i = 0; i < raw.length; i += 1) { bytes[i] = raw.charCodeAt(i); }
  return bytes;
}

// Kept on `self` so the renewal can be driven as one function (browsers rarely fire the event on
// demand). Resolves to the server's status, or null when there is nothing to renew with.
self.ilertSubscriptionChange = function (newSubscription) {
  return readRenewal().then(function (saved) {
    // Push never enabled here (or before renewal tokens existed): the profile says to enable it again.
    if (!saved || !saved.token || !saved.renew_url || !saved.vapid_key) { return null; }
    var fresh = newSubscription ? Promise.resolve(newSubscription)
      : self.registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: keyBytes(saved.vapid_key) });
    return fresh.then(function (subscription) {
      var json = subscription.toJSON();
      return fetch(saved.renew_url, {
        method: "POST", credentials: "omit", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ old_endpoint: saved.endpoint, token: saved.token, endpoint: json.endpoint, keys: json.keys }),
      }).then(function (response) {
        return response.json().catch(function () { return {}; }).then(function (answer) {
          if (!response.ok || !answer.renewal_token) { return response.status; }
          return keepRenewal({ endpoint: json.endpoint, token: answer.renewal_token, renew_url: saved.renew_url,
                               vapid_key: saved.vapid_key }).then(function () { return response.status; });
        });
      });
    });
  });
};

self.addEventListener("pushsubscriptionchange", function (event) {
  // Firefox gives the new subscription; Chromium gives none (subscribe again ourselves).
  event.waitUntil(self.ilertSubscriptionChange(event.newSubscription || null));
});
