"""The provider webhooks: Twilio (inbound SMS, call status, the call's TwiML and keypad) and the push
app's actions. They only check signatures (Twilio's, per account) or the signed action token and
hand over to `replies` and the engine; nothing here changes state itself. Every Twilio view is
wrapped in twilio_signature.webhook (parameters without NUL characters)."""

import json

from django.db import transaction
from django.http import HttpResponse, HttpResponseForbidden, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from twilio.twiml.messaging_response import MessagingResponse
from twilio.twiml.voice_response import Gather, VoiceResponse

from ilert import replay, twilio_signature
from ilert.dashboard import token_addressed

from . import engine, providers, replies
from .channels import twilio_common, voice
from .models import Notification


def _twilio_account(request):
    """The Twilio account a webhook comes from — by its AccountSid, checked with that account's token
    only — or None (then the request is refused)."""
    account = providers.webhook_account(request.POST.get("AccountSid", ""))
    if account is not None and twilio_signature.signed_by(request, account.auth_token):
        return account
    return None


def _twiml(response):
    return HttpResponse(str(response), content_type="text/xml")


def _notification_for_webhook(request, token):
    notification = Notification.objects.select_related("user", "incident", "bundle").filter(token=token).first()
    if notification is None:
        return None, HttpResponse(status=404)
    # Only the Twilio account that serves the notification's organisation may call about it.
    account = _twilio_account(request)
    if account is None or not account.serves(notification.tenant_id):
        return None, HttpResponseForbidden("Invalid Twilio signature.")
    return notification, None


@csrf_exempt
@require_POST
@twilio_signature.webhook
def twilio_sms(request):
    """Twilio's inbound message webhook for our numbers: answers to pages, STOP/START/HELP."""
    account = _twilio_account(request)
    if account is None:
        return HttpResponseForbidden("Invalid Twilio signature.")
    response = MessagingResponse()
    # One answer per MessageSid: a retried or replayed delivery does nothing and replies nothing.
    with transaction.atomic():
        if not replay.first_time("twilio-message", request.POST.get("MessageSid", "")):
            return _twiml(response)
        answer = replies.handle_sms(request.POST.get("From", ""), request.POST.get("Body", ""),
                                    tenants=account.tenants())
    if answer:
        response.message(answer)
    return _twiml(response)


@token_addressed
@csrf_exempt
@require_POST
@twilio_signature.webhook
def twilio_status(request, token):
    notification, refusal = _notification_for_webhook(request, token)
    if refusal is not None:
        return refusal
    status = request.POST.get("MessageStatus") or request.POST.get("CallStatus") or ""
    sid = request.POST.get("MessageSid") or request.POST.get("CallSid") or ""
    engine.record_status(notification, status, provider_id=sid, error_code=request.POST.get("ErrorCode", ""),
                         duration=request.POST.get("CallDuration", ""),
                         answered_by=request.POST.get("AnsweredBy", ""))
    return HttpResponse(status=204)


def _menu(notification):
    lead = notification.bundle or notification
    items = [lead] + list(lead.bundled.all().order_by("id"))
    spoken = voice.render_voice(lead, items).text
    response = VoiceResponse()
    if notification.kind == Notification.Kind.PAGE:
        gather = Gather(num_digits=1, action=twilio_common.gather_url(notification), method="POST", timeout=8)
        gather.say(spoken)
        response.append(gather)
        response.say("No key was pressed. Goodbye.")
    else:
        response.say(spoken)
    return response


@token_addressed
@csrf_exempt
@require_POST
@twilio_signature.webhook
def twilio_voice(request, token):
    """The TwiML of a call: the incident read out, then the keypad menu. Voicemail: hang up (nothing
    changes; escalation goes on)."""
    notification, refusal = _notification_for_webhook(request, token)
    if refusal is not None:
        return refusal
    if request.POST.get("AnsweredBy", "").startswith(("machine", "fax")):
        response = VoiceResponse()
        response.hangup()
        return _twiml(response)
    return _twiml(_menu(notification))


@token_addressed
@csrf_exempt
@require_POST
@twilio_signature.webhook
def twilio_gather(request, token):
    notification, refusal = _notification_for_webhook(request, token)
    if refusal is not None:
        return refusal
    digits = request.POST.get("Digits", "")
    acts = digits.strip() in replies.KEYS
    with transaction.atomic():
        # A call acts once (it hangs up after an action): a repeated callback of its CallSid (a
        # retry, a replay) must not escalate twice.
        if acts and not replay.first_time("twilio-call-action", request.POST.get("CallSid", "")):
            return _twiml(_said("This call has already answered the page. Goodbye."))
        answer = replies.handle_keypress(notification, digits)
    if answer.again:
        response = _menu(notification)
        if answer.say:
            prefixed = VoiceResponse()
            prefixed.say(answer.say)
            for verb in response.verbs:
                prefixed.append(verb)
            response = prefixed
        return _twiml(response)
    return _twiml(_said(answer.say))


def _said(text):
    response = VoiceResponse()
    response.say(text)
    response.hangup()
    return response


@csrf_exempt
@require_POST
def push_action(request):
    """The app's answer to a push: {"token": "<action_token from the push data>", "action": "accept"}."""
    if request.content_type == "application/json":
        try:
            data = json.loads(request.body or b"{}")
        except ValueError:
            return JsonResponse({"code": "invalid", "message": "Malformed JSON."}, status=400)
        if not isinstance(data, dict):
            return JsonResponse({"code": "invalid", "message": "Send a JSON object."}, status=400)
    else:
        data = request.POST
    status, message = replies.handle_push_action(str(data.get("token", "")), str(data.get("action", "")))
    code = {200: "ok", 400: "invalid", 403: "forbidden", 409: "already_taken"}[status]
    return JsonResponse({"code": code, "message": message}, status=status)
