"""In Chromium: the installable app's service worker registers and caches its shell, the profile's
"Enable push on this device" subscribes and registers the browser, a page goes out through the real
pywebpush to a push service on 127.0.0.1, reaches the real service worker, which shows the
notification with its actions, and the Accept action accepts the incident (via push).

What is real and what is not (no internet here, and Chromium's own push service is Google's FCM):
- real: the service worker (/sw.js, registered by static/js/pwa.js), its install/activate caching,
  the page's button code, the CSRF-protected POST of the subscription, the server's encryption and
  VAPID signature and its HTTP request to the push service, the worker's `push` handler and
  `showNotification` with action buttons, its action handler's POST of the signed token, the
  server's answer and the follow-up notification;
- shimmed: `PushManager.subscribe` / `getSubscription` in the page (an init script returns a
  subscription whose endpoint is the local push service and whose keys the test generated: the
  browser's own subscribe needs FCM); the push service's delivery to the browser (the local service
  decrypts the message with the subscription's keys, as the browser would, and the test hands the
  plaintext to the real worker with the DevTools protocol's ServiceWorker.deliverPushMessage, which
  fires a trusted `push` event); the tap on the action (headless Chromium shows no notification UI:
  the test dispatches a `notificationclick` NotificationEvent with the worker's real Notification
  object inside the worker, so the worker's own listener runs).
"""

import json

import pytest

from alerts.models import Incident
from notifications import engine, services, vapid
from notifications.models import ContactMethod
from tests.alerts.factories import make_incident
from tests.factories import TenantFactory, UserFactory
from tests.notifications.factories import make_rule
from tests.notifications.webpush_fake import FakePushService, Subscriber

from .conftest import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SHIM = """
(() => {
  const fake = %s;
  const subscription = {
    endpoint: fake.endpoint, expirationTime: null,
    toJSON() { return {endpoint: fake.endpoint, expirationTime: null, keys: fake.keys}; },
    unsubscribe() { return Promise.resolve(true); },
  };
  let subscribed = false;
  if (window.PushManager) {
    PushManager.prototype.subscribe = function (options) {
      window.__ilertSubscribeOptions = options;  // what the page asked for (the VAPID key)
      subscribed = true;
      return Promise.resolve(subscription);
    };
    PushManager.prototype.getSubscription = function () { return Promise.resolve(subscribed ? subscription : null); };
  }
})();
"""


@pytest.fixture
def push_settings(settings, live_server, tmp_path):
    settings.SITE_URL = live_server.url
    settings.ALLOW_PRIVATE_TARGETS = True  # the push service listens on 127.0.0.1
    settings.DATA_DIR = tmp_path
    settings.WEBPUSH_VAPID_PRIVATE_KEY = ""
    vapid.reset_cache()
    yield
    vapid.reset_cache()


def controlled(page):
    """Open the login page and stay there until the service worker it registers has activated and
    taken it over (the worker's clients.claim(): a page open before the worker was is controlled
    without being loaded again). Nothing navigates meanwhile: a page whose navigation began while
    the worker activated would be missed by the claim (any browser's race on a first visit; login's
    redirect met it). Awaited in the page, for at most 15 s; not with page.wait_for_function, which
    when it polls evaluates the predicate's string in the page, refused by its Content-Security-Policy."""
    page.goto("/login/")
    page.evaluate("""() => navigator.serviceWorker.controller !== null || new Promise((resolve, reject) => {
        navigator.serviceWorker.addEventListener("controllerchange", resolve, {once: true});
        setTimeout(async () => {
            const r = await navigator.serviceWorker.getRegistration();
            const state = r ? ["installing", "waiting", "active"].map(k => `${k}: ${r[k] && r[k].state}`).join(", ")
                            : "not registered";
            reject(new Error(`the service worker did not take the page over in 15 s (${state})`));
        }, 15000);
    })""")


def notifications_of(page, until):
    """The worker's notifications once one of them matches `until` (a JS predicate on a notification):
    awaited in the page, checking again after each 100 ms for at most 15 s."""
    found = page.evaluate("""async (until) => {
        const matches = new Function("n", "return " + until);
        const registration = await navigator.serviceWorker.ready;
        for (let i = 0; i < 150; i += 1) {
            const shown = await registration.getNotifications();
            if (shown.some(matches)) {
                return shown.map(n => ({title: n.title, body: n.body, tag: n.tag,
                                        actions: n.actions.map(a => a.action), data: n.data}));
            }
            await new Promise(resolve => setTimeout(resolve, 100));
        }
        return null;
    }""", until)
    assert found is not None, f"no notification with {until}"
    return found


def test_enable_push_receive_a_page_in_the_service_worker_and_accept_from_its_action(
        browser, live_server, push_settings):
    tenant = TenantFactory(name="Acme", slug="acme")
    rita = UserFactory(tenant=tenant, email="rita@acme.test", name="Rita Responder", role="responder")
    context = browser.new_context(base_url=live_server.url, viewport={"width": 390, "height": 844})
    context.set_default_timeout(15_000)
    context.grant_permissions(["notifications"], origin=live_server.url)
    with FakePushService() as push:
        subscriber = Subscriber(push.endpoint("chromium"))
        context.add_init_script(SHIM % json.dumps({"endpoint": subscriber.endpoint, "keys": subscriber.keys}))
        page = context.new_page()
        # The worker registers on every page and takes the page over.
        controlled(page)
        login(page, "rita@acme.test", "correct horse battery")
        cached = page.evaluate("async () => { const names = await caches.keys(); const c = await caches.open(names[0]);"
                               " return {names, urls: (await c.keys()).map(r => new URL(r.url).pathname)}; }")
        assert len(cached["names"]) == 1 and cached["names"][0].startswith("ilert-shell-")
        assert "/offline" in cached["urls"] and all(u == "/offline" or u.startswith("/static/") for u in cached["urls"])

        page.goto("/profile/")
        page.wait_for_selector("[data-webpush-enable]")
        page.fill("[data-webpush-name]", "Rita's phone")
        page.screenshot(path="/tmp/webpush-profile-390-before.png", full_page=True)
        page.click("[data-webpush-enable]")
        page.wait_for_selector("text=Push is on for this device")
        key = page.evaluate("btoa(String.fromCharCode(...new Uint8Array(window.__ilertSubscribeOptions.applicationServerKey)))")
        assert key.replace("+", "-").replace("/", "_").rstrip("=") == vapid.public_key()
        method = ContactMethod.objects.get(kind="webpush")
        assert (method.user_id, method.address, method.device_name) == (rita.pk, subscriber.endpoint, "Rita's phone")
        assert method.push_keys == subscriber.keys
        assert "Rita's phone" in page.inner_text("#contact-methods")
        page.screenshot(path="/tmp/webpush-profile-390.png", full_page=True)
        # The device block fits a 390 px screen (the contact-method table beside it is the layout work
        # of the phone pages, not this block's).
        assert page.evaluate("document.querySelector('#webpush-device').getBoundingClientRect().right"
                             " <= window.innerWidth")

        make_rule(rita, method, "HIGH", 0)
        incident = make_incident(tenant, summary="Checkout is failing", priority="HIGH")
        services.notify(incident, rita, round_tag="r1")  # what the escalation engine does
        engine.dispatch()
        assert len(push.requests) == 1
        plaintext = json.dumps(subscriber.decrypt(push.requests[0]["body"]))

        # The push service hands the message to the browser: a trusted `push` event in the real worker.
        cdp = context.new_cdp_session(page)
        registrations = []
        cdp.on("ServiceWorker.workerRegistrationUpdated", lambda event: registrations.extend(event["registrations"]))
        cdp.send("ServiceWorker.enable")
        for _ in range(50):  # the events arrive while Playwright pumps the session: wait for them, bounded
            if registrations:
                break
            page.wait_for_timeout(100)
        registration_id = next(r["registrationId"] for r in registrations if r["scopeURL"] == live_server.url + "/")
        cdp.send("ServiceWorker.deliverPushMessage",
                 {"origin": live_server.url, "registrationId": registration_id, "data": plaintext})
        [shown] = notifications_of(page, "n.body.includes('Checkout')")
        room = _worker(context).evaluate("Notification.maxActions")
        # Linux Chromium shows two buttons: Accept and Escalate; three where the platform has room.
        assert shown["actions"] == (["accept", "resolve", "escalate"] if room >= 3 else ["accept", "escalate"])
        assert f"#{incident.number}" in shown["title"] and shown["body"] == "Checkout is failing"
        assert shown["data"]["url"].endswith(f"/incidents/{incident.pk}/") or str(incident.pk) in shown["data"]["url"]

        # The responder taps "Accept": the worker's own notificationclick listener answers.
        worker = _worker(context)
        worker.evaluate("""async () => {
            const [notification] = await self.registration.getNotifications();
            self.dispatchEvent(new NotificationEvent("notificationclick", {notification, action: "accept"}));
        }""")
        [answer] = notifications_of(page, "n.tag === 'ilert-answer'")
        assert answer["body"] == f"#{incident.number} accepted."
        incident.refresh_from_db()
        assert incident.status == Incident.Status.ACCEPTED and incident.accepted_by == rita
        assert incident.log_entries.get(kind="accepted").via == "push"

        # iOS shows no action buttons: tapping opens the incident page, with its buttons on the first screen.
        page.goto(shown["data"]["url"].removeprefix(live_server.url))
        page.screenshot(path="/tmp/webpush-incident-390.png")
        context.close()


def test_the_app_shows_the_offline_page_when_the_network_is_gone(browser, live_server, push_settings):
    tenant = TenantFactory(name="Acme", slug="acme")
    UserFactory(tenant=tenant, email="rita@acme.test", name="Rita Responder", role="responder")
    context = browser.new_context(base_url=live_server.url, viewport={"width": 390, "height": 844})
    context.set_default_timeout(15_000)
    page = context.new_page()
    controlled(page)
    login(page, "rita@acme.test", "correct horse battery")
    context.set_offline(True)
    page.goto("/incidents/")
    assert "You are offline" in page.inner_text("body")
    assert "Rita" not in page.content()
    page.screenshot(path="/tmp/webpush-offline-390.png")
    context.close()


WORKER_SUBSCRIBE_SHIM = """(fake) => {
    // In the worker: the push service's new subscription (the real one needs FCM).
    PushManager.prototype.subscribe = function (options) {
        self.__ilertResubscribeKey = btoa(String.fromCharCode(...new Uint8Array(options.applicationServerKey)));
        self.__ilertResubscribeVisible = options.userVisibleOnly;
        return Promise.resolve({endpoint: fake.endpoint, toJSON() { return {endpoint: fake.endpoint, keys: fake.keys}; }});
    };
}"""

def _worker(context):
    """The page's service worker. Playwright may learn of it a moment after the page has a
    controller: then wait for its "serviceworker" event instead of reading an empty list."""
    return context.service_workers[0] if context.service_workers else context.wait_for_event("serviceworker")


READ_RENEWAL = """async () => {
    const hit = await (await caches.open("ilert-push-renewal")).match("/__ilert/push-renewal");
    return hit ? hit.json() : null;
}"""


def test_the_worker_renews_a_replaced_subscription_with_the_same_vapid_key(browser, live_server, push_settings):
    """pushsubscriptionchange: Chromium fires it only when its push service (FCM) drops a
    subscription, so the test runs the worker's own handler function in the real worker (the event
    listener only passes event.newSubscription to it), with the worker's PushManager.subscribe shimmed."""
    tenant = TenantFactory(name="Acme", slug="acme")
    rita = UserFactory(tenant=tenant, email="rita@acme.test", name="Rita Responder", role="responder")
    context = browser.new_context(base_url=live_server.url, viewport={"width": 390, "height": 844})
    context.set_default_timeout(15_000)
    context.grant_permissions(["notifications"], origin=live_server.url)
    with FakePushService() as push:
        first = Subscriber(push.endpoint("first"))
        context.add_init_script(SHIM % json.dumps({"endpoint": first.endpoint, "keys": first.keys}))
        page = context.new_page()
        controlled(page)
        login(page, "rita@acme.test", "correct horse battery")
        page.goto("/profile/")
        page.wait_for_selector("[data-webpush-enable]")
        page.fill("[data-webpush-name]", "Rita's phone")
        page.click("[data-webpush-enable]")
        page.wait_for_selector("text=Push is on for this device")
        method = ContactMethod.objects.get(kind="webpush")
        make_rule(rita, method, "HIGH", 0)

        worker = _worker(context)
        saved = worker.evaluate(READ_RENEWAL)
        assert saved["endpoint"] == first.endpoint and saved["vapid_key"] == vapid.public_key()
        assert saved["renew_url"] == "/notifications/webpush/renew" and len(saved["token"]) >= 40

        second = Subscriber(push.endpoint("second"))
        worker.evaluate(WORKER_SUBSCRIBE_SHIM, {"endpoint": second.endpoint, "keys": second.keys})
        assert worker.evaluate("self.ilertSubscriptionChange(null)") == 200
        key = worker.evaluate("self.__ilertResubscribeKey")
        assert key.replace("+", "-").replace("/", "_").rstrip("=") == vapid.public_key()
        assert worker.evaluate("self.__ilertResubscribeVisible") is True
        method.refresh_from_db()
        assert (method.address, method.push_keys, method.device_name, method.rules.count()) == (
            second.endpoint, second.keys, "Rita's phone", 1)
        renewed = worker.evaluate(READ_RENEWAL)
        assert renewed["endpoint"] == second.endpoint and renewed["token"] != saved["token"]

        # Firefox hands the new subscription to the event: no subscribing again, the same renewal.
        third = Subscriber(push.endpoint("third"))
        status = worker.evaluate("(fake) => self.ilertSubscriptionChange({toJSON() { return fake; }})",
                                 {"endpoint": third.endpoint, "keys": third.keys})
        assert status == 200 and ContactMethod.objects.get(pk=method.pk).address == third.endpoint

        # A spent token (someone replaying what the worker sent earlier) is refused and changes nothing.
        worker.evaluate("(old) => caches.open('ilert-push-renewal').then(c => c.put('/__ilert/push-renewal',"
                        " new Response(JSON.stringify(old))))", renewed)
        assert worker.evaluate("self.ilertSubscriptionChange(null)") == 403
        assert ContactMethod.objects.get(pk=method.pk).address == third.endpoint
    context.close()
