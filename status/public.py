"""The public side: the page at /status/<slug>/ (or on its own domain), its Statuspage-compatible
JSON, RSS and Atom feeds, subscribing (double opt-in), unsubscribing, and audience logins.

Fast and cacheable: one query finds the page; its ETag names the page's `changed_at` (bumped by
every change it shows), the local date (the bars move at midnight) and the access variant, so a
conditional request is answered 304 before anything else is read. Rendered bodies are cached under
their ETag. Public pages say `Cache-Control: public, max-age=30`; private and audience pages
`private, no-cache` (a shared cache must not hand them to strangers).

Forms here are CSRF-exempt on purpose: they act only through the signed token they carry, or only
send a confirmation to the address typed (double opt-in), and a CSRF cookie would make every page
answer personal and uncacheable.
"""

import hashlib
import json
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.core.mail import EmailMultiAlternatives
from django.http import Http404, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.cache import get_conditional_response, patch_vary_headers
from django.utils.feedgenerator import Atom1Feed, Rss201rev2Feed
from django.utils.html import escape
from django.utils.http import http_date
from django.utils.safestring import mark_safe
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from ilert import clock, ratelimit
from ilert.clientip import client_ip
from ilert.dashboard import token_addressed
from ilert.errors import DomainError

from . import access, fastpath, history, pagetime, selectors, services
from .models import ServiceStatus, StatusIncident
from .statuspage import DESCRIPTIONS, Shapes

CACHE_SECONDS = 300
CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src https: data:; form-action 'self'; "
       "base-uri 'none'; frame-ancestors 'none'")


def _page(request, slug, *, preview=False):
    page = selectors.page_by_slug(slug)
    if page is None or (not page.published and not (preview and access.is_member(request, page))):
        raise Http404
    return page


def _variant(request, page):
    """Who the answer is for: everyone (public), or members/grantees of this page."""
    return "public" if page.visibility == "public" else f"{page.visibility}:{page.access_nonce}"


def _etag(page, variant, what):
    today = clock.now().astimezone(history.zone_of(page)).date().isoformat()  # the bars move at local midnight
    raw = f"{page.pk}:{page.changed_at.timestamp()}:{today}:{variant}:{what}"
    return '"' + hashlib.sha256(raw.encode()).hexdigest()[:32] + '"'


def _headers(response, page, etag):
    response["ETag"] = etag
    response["Last-Modified"] = http_date(page.changed_at.timestamp())
    if page.visibility == "public":
        response["Cache-Control"] = "public, max-age=30"
    else:
        response["Cache-Control"] = "private, no-cache"
        patch_vary_headers(response, ["Cookie"])
    response["Content-Security-Policy"] = CSP
    return response


def _serve(request, page, what, build, content_type):
    """Access, then the conditional answer, then the cached or freshly built body."""
    if not access.can_view(request, page):
        return _refuse(request, page)
    etag = _etag(page, _variant(request, page), what)
    conditional = get_conditional_response(request, etag=etag, last_modified=int(page.changed_at.timestamp()))
    if conditional is not None:
        response = _headers(conditional, page, etag)
    else:
        key = f"status:{etag}"
        body = cache.get(key)
        if body is None:
            body = build()
            cache.set(key, body, CACHE_SECONDS)
        response = _headers(HttpResponse(body, content_type=content_type), page, etag)
    if page.visibility == "public":
        fastpath.remember(request, page, response)
    return response


def _refuse(request, page):
    if page.visibility == "private":
        if request.path.endswith((".json", ".rss", ".atom")):
            return JsonResponse({"error": "This status page is private."}, status=403)
        return HttpResponseRedirect(f"{reverse('login')}?next={request.path}")
    if request.path.endswith((".json", ".rss", ".atom")):
        return JsonResponse({"error": "This status page needs its link or a login."}, status=403)
    response = render(request, "status/public/access.html", {"page": page}, status=403)
    response["Cache-Control"] = "private, no-store"
    return response


def _context(page, now=None):
    now = now or clock.now()
    services_ = selectors.page_services(page)
    ids = [s.pk for s in services_]
    bars = history.bars(page, services_, now)
    shown = selectors.page_incidents(page, service_ids=ids, since=now - timedelta(days=14), limit=200)
    open_ = [i for i in shown if i.is_open]  # one query (and its prefetches) for open and recent ones
    active = [i for i in open_ if i.kind == StatusIncident.Kind.INCIDENT]
    maintenance = [i for i in open_ if i.kind == StatusIncident.Kind.MAINTENANCE]
    past = [i for i in shown if not i.is_open and i.kind == StatusIncident.Kind.INCIDENT]
    shapes = Shapes(page, services_)
    status = shapes.status(open_)
    groups, order = {}, []
    labels = {}
    for service in services_:
        key = service.group_id or 0
        if key not in groups:
            groups[key] = {"group": service.group, "rows": []}
            order.append(key)
        groups[key]["rows"].append({"service": service, "bars": _bars_html(bars[service.pk], labels),
                                    "uptime": history.uptime_90(bars[service.pk])})
    return {"page": page, "status": status, "groups": [groups[k] for k in order], "incidents": active,
            "maintenance": maintenance, "past": past, "now": now, "descriptions": DESCRIPTIONS,
            "days": history.DAYS, "zone_name": pagetime.zone_name(page)}


STATUS_LABEL = dict(ServiceStatus.choices)


def _bars_html(bars, cache):
    """The 90 bars of a service as one string: 4,500 template iterations per page were most of the
    render time. `cache` keeps each (day, status, uptime) piece for the page's other services."""
    parts = []
    for index, (day, status, uptime) in enumerate(bars):
        key = (index, status, uptime)
        piece = cache.get(key)
        if piece is None:
            title = f"{day.isoformat()}: {STATUS_LABEL[status] if status else 'no data'}"
            if uptime is not None:
                title += f", {uptime}% uptime"
            piece = cache[key] = f'<span class="{status or ""}" title="{escape(title)}"></span>'
        parts.append(piece)
    return mark_safe("".join(parts))  # noqa: S308 - built from escaped values and fixed class names


def _html(request, page, *, preview=False):
    context = _context(page)
    context["preview"] = preview
    return render(request, "status/public/page.html", context).content


@token_addressed
@require_safe
def page_view(request, slug):
    page = _page(request, slug)
    token = request.GET.get("access")
    if token is not None and page.visibility == "audience":  # the secret link: a grant, then a clean URL
        if not access.token_matches(page, token):
            return _refuse(request, page)
        response = HttpResponseRedirect(request.path)
        access.grant(response, page)
        return response
    return _serve(request, page, "html", lambda: _html(request, page), "text/html; charset=utf-8")


# --- the Statuspage API ----------------------------------------------------------------------------


# What each Statuspage API endpoint answers besides the page: (JSON key, part), in that order.
ENDPOINTS = {
    "summary": (("components", "components"), ("incidents", "open incidents"),
                ("scheduled_maintenances", "open maintenance"), ("status", "status")),
    "components": (("components", "components"),),
    "status": (("status", "status"),),
    "incidents": (("incidents", "all incidents"),),
    "unresolved": (("incidents", "open incidents"),),
    "maintenances": (("scheduled_maintenances", "all maintenance"),),
    "upcoming": (("scheduled_maintenances", "upcoming maintenance"),),
    "active": (("scheduled_maintenances", "active maintenance"),),
}


def _json(page, what):
    services_ = selectors.page_services(page)
    ids = [s.pk for s in services_]
    shapes = Shapes(page, services_)
    open_ = selectors.page_incidents(page, service_ids=ids, open_only=True)
    incidents_open = [i for i in open_ if i.kind == "incident"]
    maintenance_open = [i for i in open_ if i.kind == "maintenance"]

    def shaped(incidents):
        return [shapes.incident(i) for i in incidents]

    parts = {  # built only when the endpoint asks (the lists of all incidents are queries)
        "components": shapes.components,
        "status": lambda: shapes.status(open_),
        "open incidents": lambda: shaped(incidents_open),
        "open maintenance": lambda: shaped(maintenance_open),
        "all incidents": lambda: shaped(selectors.page_incidents(page, service_ids=ids, kind="incident")),
        "all maintenance": lambda: shaped(selectors.page_incidents(page, service_ids=ids, kind="maintenance")),
        "upcoming maintenance": lambda: shaped(i for i in maintenance_open if i.status == "scheduled"),
        "active maintenance": lambda: shaped(i for i in maintenance_open if i.status in ("in_progress", "verifying")),
    }
    body = {"page": shapes.page_shape(page.changed_at)}
    for key, part in ENDPOINTS.get(what, ()):
        body[key] = parts[part]()
    return json.dumps(body, separators=(",", ":")).encode()


def api_view(what):
    @token_addressed
    @require_safe
    def view(request, slug):
        page = _page(request, slug)
        response = _serve(request, page, what, lambda: _json(page, what), "application/json")
        response["Access-Control-Allow-Origin"] = "*" if page.visibility == "public" else ""
        if not response["Access-Control-Allow-Origin"]:
            del response["Access-Control-Allow-Origin"]
        return response

    view.__name__ = f"statuspage_{what}"
    return view


# --- feeds ------------------------------------------------------------------------------------------


def _feed(page, generator):
    url = access.page_url(page)
    feed = generator(title=f"{page.name} status", link=url, description=f"Incidents of {page.name}",
                     language="en", feed_url=url + ("feed.atom" if generator is Atom1Feed else "feed.rss"))
    for incident in selectors.page_incidents(page, limit=50):
        updates = list(incident.updates.all())
        text = "\n\n".join(f"{u.get_status_display()} ({pagetime.page_time(u.at, page)}): {u.message}"
                           for u in updates)
        if incident.kind == StatusIncident.Kind.MAINTENANCE and incident.scheduled_for:
            text = (f"Scheduled {pagetime.page_time(incident.scheduled_for, page)} – "
                    f"{pagetime.page_time(incident.scheduled_until, page)}\n\n{text}")
        feed.add_item(title=f"{incident.title} ({incident.get_status_display()})",
                      link=f"{url}#incident-{incident.code}", description=text, unique_id=f"{url}#{incident.code}",
                      pubdate=incident.created_at, updateddate=incident.updated_at)
    return feed.writeString("utf-8").encode()


def feed_view(generator, what):
    @token_addressed
    @require_safe
    def view(request, slug):
        page = _page(request, slug)
        return _serve(request, page, what, lambda: _feed(page, generator), f"{generator.content_type}")

    view.__name__ = f"feed_{what}"
    return view


rss = feed_view(Rss201rev2Feed, "rss")
atom = feed_view(Atom1Feed, "atom")


# --- subscribing ------------------------------------------------------------------------------------


def _limited(request, what):
    """Throttle forms that send mail: per client address and per page."""
    return bool(ratelimit.hit("20/hour", f"status-{what}", client_ip(request)))


@token_addressed
@csrf_exempt
@require_POST
def subscribe(request, slug):
    page = _page(request, slug)
    if not access.can_view(request, page):
        return _refuse(request, page)
    if _limited(request, "subscribe"):
        return render(request, "status/public/message.html", {"page": page, "title": "Too many requests",
                      "text": "Please try again later."}, status=429)
    chosen = request.POST.getlist("services")
    shown = {str(s.code): s for s in selectors.page_services(page)}
    try:
        services.subscribe_email(page, request.POST.get("email", ""),
                                 services=[shown[c] for c in chosen if c in shown])
    except DomainError as exc:
        return render(request, "status/public/message.html", {"page": page, "title": "Not subscribed",
                      "text": exc.message}, status=400)
    return render(request, "status/public/message.html", {"page": page, "title": "Check your inbox",
                  "text": "We sent a link to confirm the subscription. Nothing is sent until you confirm."})


@token_addressed
@csrf_exempt
@require_http_methods(["GET", "HEAD", "POST"])
def confirm(request, token):
    """GET shows one button, POST confirms: mail scanners and link previews open (GET) every link in
    a message, and must not confirm a subscription the owner of the address never asked for."""
    subscriber = access.confirmed_subscriber(token)
    if subscriber is None:
        return render(request, "status/public/message.html", {"title": "This link is not valid",
                      "text": "It expired or was already replaced. Subscribe again from the status page."},
                      status=400)
    if request.method != "POST":
        response = render(request, "status/public/confirm.html", {"subscriber": subscriber, "page": subscriber.page})
        response["Cache-Control"] = "private, no-store"
        return response
    services.confirm_subscriber(subscriber)
    return render(request, "status/public/message.html", {"page": subscriber.page, "title": "Subscribed",
                  "text": "You will get an email for new incidents, their updates and maintenance.",
                  "unsubscribe": access.unsubscribe_url(subscriber)})


@token_addressed
@csrf_exempt
@require_http_methods(["GET", "HEAD", "POST"])
def unsubscribe(request, token):
    """GET shows one button (link scanners must not unsubscribe anyone); POST unsubscribes: the
    button, and mail clients' one-click (RFC 8058 List-Unsubscribe-Post)."""
    subscriber = access.unsubscribing_subscriber(token)
    if request.method != "POST":
        return render(request, "status/public/unsubscribe.html",
                      {"subscriber": subscriber, "page": subscriber.page if subscriber else None})
    if subscriber is not None:
        services.unsubscribe(subscriber)
    return render(request, "status/public/message.html", {"title": "Unsubscribed",
                  "text": "You will get no more notices from this status page."})


# --- audience logins --------------------------------------------------------------------------------


@token_addressed
@csrf_exempt
@require_POST
def request_access(request, slug):
    """An allowed email domain gets a magic link (signed, 30 minutes). The answer is the same for any
    address, so the allow-list is not probed."""
    page = _page(request, slug)
    if page.visibility != "audience":
        raise Http404
    if _limited(request, "access"):
        return render(request, "status/public/message.html", {"page": page, "title": "Too many requests",
                      "text": "Please try again later."}, status=429)
    email = access.one_address(request.POST.get("email", ""))
    if email is not None and access.email_allowed(page, email) and not access.mail_limited(email):
        link = visitor_link(request, page, reverse("status:access", args=[page.slug, access.magic_token(page, email)]))
        message = EmailMultiAlternatives(
            f"Your link to {page.name}", f"Open the status page {page.name}:\n\n{link}\n\nThe link works for 30 "
            "minutes. If you did not ask for it, ignore this message.", settings.DEFAULT_FROM_EMAIL, [email])
        message.send(fail_silently=True)
    return render(request, "status/public/message.html", {"page": page, "title": "Check your inbox",
                  "text": "If the address may read this page, a link to open it is on its way."})


@token_addressed
@require_safe
def magic_login(request, slug, token):
    page = _page(request, slug)
    email = access.magic_email(page, token)
    if email is None or not access.email_allowed(page, email):
        return render(request, "status/public/message.html", {"page": page, "title": "This link is not valid",
                      "text": "It expired or was replaced. Ask for a new one on the page."}, status=400)
    home = reverse("status:page", args=[page.slug])
    response = HttpResponseRedirect("/" if _on_own_domain(request, page) else home)
    access.grant(response, page)  # a cookie of the host the link was opened on: the page's domain or ours
    return response


def _on_own_domain(request, page):
    """Whether the visitor came through the page's verified custom domain (the middleware says so)."""
    return bool(page.domain_verified and getattr(request, "status_domain", None) == page.custom_domain)


def visitor_link(request, page, path):
    """An absolute link to `path` (one of the page's /status/<slug>/… paths) on the host the visitor
    used: the page's verified custom domain (there the paths lose their /status/<slug> prefix), else
    the product's SITE_URL. A grant cookie set by the link then lands on the host the visitor reads."""
    if not _on_own_domain(request, page):
        return access.absolute(path)
    scheme = "https" if settings.SERVED_OVER_HTTPS or request.is_secure() else "http"
    return f"{scheme}://{request.get_host()}{path.removeprefix(f'/status/{page.slug}')}"
