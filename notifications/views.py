"""Dashboard pages: the profile panel, a user's notification settings, the incident panel, caller IDs,
provider settings, dev outbox replies, and the pages people open from messages (one-click email
links, email verification). The provider webhooks are in webhooks.py."""

import json
import logging
from datetime import timedelta
from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST, require_safe

from accounts.models import User
from alerts.models import Incident
from alerts.selectors import incident_url
from ilert import clock
from ilert.dashboard import admin_only, can_write, tenant_object, token_addressed
from ilert.devoutbox import visible_to
from ilert.errors import DomainError
from ilert.models import DevMessage

from . import channels, providers, replies, selectors, services, tokens, vapid
from .forms import (
    CodeForm,
    ContactMethodForm,
    ContactMethodSettingsForm,
    PreferencesForm,
    ProvidersForm,
    RuleForm,
)
from .models import ContactMethod, Notification, NotificationRule, ProfileNotice, ProviderSettings

log = logging.getLogger(__name__)
PUSH = "push"  # channels/push.py

# --- settings of a user: the profile panel and the per-user page ---------------------------------


def _back(request, user):
    target = request.POST.get("next") or request.GET.get("next")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return redirect(target)
    if user.pk == request.user.pk:
        return redirect("accounts:profile")
    return redirect("notifications:user-settings", pk=user.pk)


def _settings_context(request, user):
    methods = list(selectors.methods_of(user))
    rules = list(selectors.rules_of(user))
    preference = services.settings_for(user)
    return {
        "subject": user,
        "own": user.pk == request.user.pk,
        "editable": services.can_manage(request.user, user),
        "methods": methods,
        "verified_methods": [m for m in methods if m.usable],
        "rules_high": [r for r in rules if r.priority == "HIGH"],
        "rules_low": [r for r in rules if r.priority == "LOW"],
        "no_rules": not rules,
        "defaults_high": services.default_steps(user, "HIGH"),
        "defaults_low": services.default_steps(user, "LOW"),
        "method_form": ContactMethodForm(),
        "code_form": CodeForm(),
        "rule_form": RuleForm(user=user),
        "preferences_form": PreferencesForm(user=user, initial={
            "notify_on_accept": preference.notify_on_accept, "notify_on_resolve": preference.notify_on_resolve,
            "shift_reminders": preference.shift_reminders, "reminder_minutes": preference.reminder_minutes,
            "notice_contact_method": preference.notice_contact_method_id,
        }),
        "next": request.get_full_path() if not request.headers.get("HX-Request") else "",
        "notices": list(ProfileNotice.objects.filter(user=user)) if user.pk == request.user.pk else [],
        "vapid_public_key": _vapid_public_key() if user.pk == request.user.pk else "",
    }


def _vapid_public_key():
    try:
        return vapid.public_key()
    except (OSError, ValueError):  # an unreadable key file or a bad setting: the page still works
        log.exception("VAPID key unavailable: Web Push is off")
        return ""


@require_safe
@login_required
def profile_panel(request):
    return render(request, "notifications/_settings.html", _settings_context(request, request.user))


@require_safe
@tenant_object(User)
def user_settings(request, obj):
    if not (obj.pk == request.user.pk or request.user.is_admin):
        raise Http404
    return render(request, "notifications/user_settings.html", _settings_context(request, obj))


def _managed(view):
    """POST-only views acting on a user's settings; the actor must be that user or an admin."""

    @wraps(view)
    def wrapper(request, obj, *args, **kwargs):
        user = obj if isinstance(obj, User) else obj.user
        if not services.can_manage(request.user, user):
            raise PermissionDenied("You may only change your own notification settings.")
        return view(request, obj, user, *args, **kwargs)

    return wrapper


def _run(request, action, success):
    try:
        action()
    except DomainError as exc:
        messages.error(request, f"{exc.field}: {exc.message}" if exc.field else exc.message)
        return False
    if success:
        messages.success(request, success)
    return True


@require_POST
@tenant_object(User)
@_managed
def add_contact_method(request, obj, user):
    form = ContactMethodForm(request.POST)
    if not form.is_valid():
        messages.error(request, "; ".join(f"{k}: {' '.join(v)}" for k, v in form.errors.items()))
        return _back(request, user)
    data = form.cleaned_data
    holder = {}

    def add():
        holder["method"] = services.add_contact_method(
            user, kind=data["kind"], address=data["address"], platform=data["platform"],
            device_name=data["device_name"], by=request.user)

    if _run(request, add, None):
        method = holder["method"]
        if method.is_verified:
            messages.success(request, f"{method} added.")
        elif channels.get(method.kind).verification == "link":
            messages.success(request, f"{method} added: we sent a confirmation link.")
        else:
            messages.success(request, f"{method} added: we sent a code; enter it to verify the number.")
    return _back(request, user)


@require_POST
@tenant_object(ContactMethod)
@_managed
def verify_contact_method(request, obj, user):
    _run(request, lambda: services.confirm_code(obj, request.POST.get("code", ""), by=request.user),
         f"{obj} verified.")
    return _back(request, user)


@require_POST
@tenant_object(ContactMethod)
@_managed
def send_code(request, obj, user):
    _run(request, lambda: services.send_verification(obj, by=request.user),
         "Confirmation link sent." if channels.get(obj.kind).verification == "link" else "Code sent.")
    return _back(request, user)


@require_POST
@tenant_object(ContactMethod)
@_managed
def edit_contact_method(request, obj, user):
    form = ContactMethodSettingsForm(request.POST)
    if not form.is_valid():
        messages.error(request, "; ".join(f"{k}: {' '.join(v)}" for k, v in form.errors.items()))
        return _back(request, user)
    _run(request, lambda: services.update_contact_method(obj, by=request.user, **form.cleaned_data),
         f"{obj} saved.")
    return _back(request, user)


@require_POST
@tenant_object(ContactMethod)
@_managed
def delete_contact_method(request, obj, user):
    _run(request, lambda: services.delete_contact_method(obj, by=request.user), f"{obj} removed.")
    return _back(request, user)


@require_POST
@tenant_object(User)
@_managed
def add_rule(request, obj, user):
    form = RuleForm(request.POST, user=user)
    if not form.is_valid():
        messages.error(request, "; ".join(f"{k}: {' '.join(v)}" for k, v in form.errors.items()))
        return _back(request, user)
    data = form.cleaned_data
    _run(request, lambda: services.add_rule(user, priority=data["priority"], contact_method=data["contact_method"],
                                            delay_minutes=data["delay_minutes"], by=request.user),
         f"{data['priority']} step added.")
    return _back(request, user)


@require_POST
@tenant_object(NotificationRule)
@_managed
def delete_rule(request, obj, user):
    _run(request, lambda: services.delete_rule(obj, by=request.user), "Step removed.")
    return _back(request, user)


@require_POST
@tenant_object(User)
@_managed
def save_preferences(request, obj, user):
    form = PreferencesForm(request.POST, user=user)
    if not form.is_valid():
        messages.error(request, "; ".join(f"{k}: {' '.join(v)}" for k, v in form.errors.items()))
        return _back(request, user)
    _run(request, lambda: services.update_settings(user, by=request.user, **form.cleaned_data), "Preferences saved.")
    return _back(request, user)


@require_POST
@login_required
def webpush_subscribe(request):
    """The browser the user is signed in on subscribed to push ("Enable push on this device"):
    {"endpoint", "keys": {"p256dh", "auth"}, "device_name"} as JSON, with the CSRF token in the
    X-CSRFToken header. 201 new, 200 refreshed; 400 bad input, 403 read-only role, 409 another
    user's browser. Always for the signed-in user."""
    if not services.can_manage(request.user, request.user):  # a read-only role is never paged
        return JsonResponse({"code": "forbidden", "message": "Your role does not receive pages."}, status=403)
    try:
        data = json.loads(request.body or b"")
    except ValueError:
        return JsonResponse({"code": "invalid", "message": "Send the subscription as JSON."}, status=400)
    if not isinstance(data, dict) or not isinstance(data.get("keys"), dict):
        return JsonResponse({"code": "invalid", "message": "Send {endpoint, keys: {p256dh, auth}}.",
                             "fields": {"keys": ["Required."]}}, status=400)
    try:
        method, created = services.subscribe_webpush(
            request.user, endpoint=data.get("endpoint"), p256dh=data["keys"].get("p256dh"),
            auth=data["keys"].get("auth"), device_name=data.get("device_name", ""), by=request.user)
    except DomainError as exc:
        body = {"code": exc.code, "message": exc.message}
        if exc.field:
            body["fields"] = {exc.field: [exc.message]}
        return JsonResponse(body, status=exc.status)
    # The renewal token goes to this browser once (its service worker keeps it for
    # pushsubscriptionchange); the server keeps only its hash.
    return JsonResponse({"id": method.pk, "device_name": method.device_name, "created": created,
                         "renewal_token": method.renewal_token, "renew_url": reverse("notifications:webpush-renew")},
                        status=201 if created else 200)


@csrf_exempt  # the service worker has no session and no CSRF token: the renewal token authenticates
@require_POST
def webpush_renew(request):
    """The service worker's `pushsubscriptionchange`: {"old_endpoint", "token", "endpoint", "keys":
    {"p256dh", "auth"}} as JSON. 200 {"renewal_token"} (the next one; this one is spent); 400 bad
    input, 403 unknown endpoint or wrong token (one answer for both), 409 the new endpoint is
    another contact method's. docs/push.md."""
    try:
        data = json.loads(request.body or b"")
    except ValueError:
        return JsonResponse({"code": "invalid", "message": "Send the renewal as JSON."}, status=400)
    if not isinstance(data, dict) or not isinstance(data.get("keys"), dict):
        return JsonResponse({"code": "invalid", "fields": {"keys": ["Required."]},
                             "message": "Send {old_endpoint, token, endpoint, keys: {p256dh, auth}}."}, status=400)
    try:
        method, token = services.renew_webpush(
            old_endpoint=data.get("old_endpoint"), token=data.get("token"), endpoint=data.get("endpoint"),
            p256dh=data["keys"].get("p256dh"), auth=data["keys"].get("auth"))
    except DomainError as exc:
        body = {"code": exc.code, "message": exc.message}
        if exc.field:
            body["fields"] = {exc.field: [exc.message]}
        return JsonResponse(body, status=exc.status)
    return JsonResponse({"id": method.pk, "renewal_token": token})


@require_POST
@tenant_object(ProfileNotice)
def dismiss_notice(request, obj):
    if obj.user_id != request.user.pk:
        raise Http404
    services.dismiss_notice(obj, by=request.user)
    return _back(request, request.user)


@token_addressed
def verify_email(request, token):
    """The link from a verification email: GET asks, POST confirms (mail scanners only GET)."""
    data = tokens.read_verify_email(token)
    method = None
    if data is not None:
        method = ContactMethod.objects.filter(pk=data.get("c"), address=data.get("a"),
                                              kind=channels.EmailChannel.name).first()
    if method is None:
        return render(request, "notifications/link_result.html",
                      {"title": "This link is not valid",
                       "message": "It may have expired. Send a new one from your profile."}, status=404)
    if request.method == "POST":
        services.verify_email(token)
        return render(request, "notifications/link_result.html",
                      {"title": "Email address confirmed", "message": f"ilert may now page you at {method.address}."})
    return render(request, "notifications/verify_email.html", {"method": method})


# --- panels ------------------------------------------------------------------------------------------


@require_safe
@tenant_object(Incident)
def incident_panel(request, obj):
    rows = list(selectors.incident_notifications(obj))
    for row in rows:
        device = row.contact_method.device_name if row.contact_method else ""
        if row.channel == PUSH:  # a device token is never shown, not even to its owner
            row.shown_address = channels.get(row.channel).masked_address(row.address, device)
        elif request.user.is_admin or row.user_id == request.user.pk:
            row.shown_address = row.address
        else:
            row.shown_address = channels.get(row.channel).masked_address(row.address, device)
    return render(request, "notifications/_incident_panel.html", {"incident": obj, "rows": rows})


@require_safe
@login_required
def home_panel(request):
    users = list(User.objects.filter(tenant=request.tenant, is_active=True).exclude(role="stakeholder"))
    with_rules = set(NotificationRule.objects.filter(tenant=request.tenant).values_list("user_id", flat=True))
    without = [u for u in users if u.pk not in with_rules]
    failed = Notification.objects.filter(
        tenant=request.tenant, status__in=(Notification.Status.FAILED, Notification.Status.UNCERTAIN,
                                           Notification.Status.PARKED),
        created_at__gte=_day_ago()).count()
    context = {"me_without_rules": request.user.pk not in with_rules and request.user.can_write,
               "without": without if request.user.is_admin else [], "failed": failed}
    return render(request, "notifications/_home_panel.html", context)


def _day_ago():
    return clock.now() - timedelta(days=1)


# --- caller IDs and providers --------------------------------------------------------------------------


@require_safe
@login_required
def caller_ids(request):
    numbers = providers.caller_ids(request.tenant.pk)
    return render(request, "notifications/caller_ids.html", {"numbers": numbers})


@require_safe
@login_required
def caller_ids_vcard(request):
    numbers = providers.caller_ids(request.tenant.pk)
    lines = ["BEGIN:VCARD", "VERSION:3.0", "FN:ilert alerts", "N:alerts;ilert;;;", "ORG:ilert",
             "NOTE:ilert calls and texts you from these numbers. Allow them through Do Not Disturb."]
    lines += [f"TEL;TYPE=WORK,VOICE:{number}" for number in numbers]
    lines.append(f"URL:{settings.SITE_URL}/")
    lines.append("END:VCARD")
    response = HttpResponse("\r\n".join(lines) + "\r\n", content_type="text/vcard; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="ilert-caller-ids.vcf"'
    return response


@login_required
@admin_only
def provider_settings(request):
    """Everyone sees which providers are in use and the webhook URLs; admins change credentials."""
    own = ProviderSettings.objects.filter(tenant=request.tenant).first()
    form = ProvidersForm(request.POST or None, initial={
        "twilio_account_sid": own.twilio_account_sid if own else "",
        "twilio_from_number": own.twilio_from_number if own else "",
    })
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        ok = _run(request, lambda: services.save_provider_settings(
            request.tenant, by=request.user,
            twilio_account_sid=data["twilio_account_sid"], twilio_auth_token=data["twilio_auth_token"] or None,
            twilio_from_number=data["twilio_from_number"], firebase_credentials=data["firebase_credentials"] or None,
            clear_twilio=data["clear_twilio"], clear_firebase=data["clear_firebase"]), "Provider settings saved.")
        if ok:
            return redirect("notifications:providers")
    context = {
        "form": form, "own": own,
        "platform_twilio": providers.platform_twilio() is not None,
        "platform_firebase": bool(settings.FIREBASE_CREDENTIALS_FILE),
        "email_backend": settings.EMAIL_BACKEND,
        "site_url": settings.SITE_URL,
        "twilio_sms_webhook": settings.SITE_URL + reverse("notifications:twilio-sms"),
        "push_action_webhook": settings.SITE_URL + reverse("notifications:push-action"),
    }
    return render(request, "notifications/providers.html", context)


# --- the dev outbox: simulated replies ------------------------------------------------------------------


@require_POST
@tenant_object(DevMessage)
@can_write
def dev_reply(request, obj):
    """Simulate an answer to a dev outbox message, through the same code as the real webhooks."""
    if not settings.DEV_OUTBOX or not visible_to(request.user).filter(pk=obj.pk).exists():
        raise Http404
    meta = obj.meta or {}
    notification = Notification.objects.select_related("user", "incident", "bundle").filter(
        pk=meta.get("notification"), tenant=request.tenant).first()
    if notification is None:
        raise Http404
    if notification.user_id != request.user.pk and not request.user.is_admin:
        raise PermissionDenied("Only the recipient (or an admin) may answer this message.")
    if obj.channel not in channels.names():
        raise Http404
    outcome = channels.get(obj.channel).simulate_reply(obj, notification, request.POST)
    if outcome is None:
        raise Http404  # the channel takes no answers (web push: the browser answers itself)
    messages.info(request, outcome or "Done.")
    return redirect(request.POST.get("next") if url_has_allowed_host_and_scheme(
        request.POST.get("next", ""), allowed_hosts={request.get_host()}) else "dev-outbox")


# --- one-click email links --------------------------------------------------------------------------


@token_addressed
def email_action(request, token):
    """GET shows what the link would do; only the POST acts (so link scanners never accept)."""
    found = tokens.read_email_action(token)
    notification = None
    if found is not None:
        notification = Notification.objects.select_related("user", "incident__alert_source").filter(
            pk=found[0], kind=Notification.Kind.PAGE).first()
    if notification is None:
        return render(request, "notifications/link_result.html",
                      {"title": "This link is not valid",
                       "message": "It may have expired. Open the incident in ilert."}, status=404)
    action = found[1]
    if request.method == "POST":
        outcome = replies.act(notification.incident, notification.user, action, via="email")
        return render(request, "notifications/link_result.html",
                      {"title": outcome, "message": "", "incident_url": incident_url(notification.incident)})
    return render(request, "notifications/email_action.html",
                  {"notification": notification, "incident": notification.incident, "action": action})
