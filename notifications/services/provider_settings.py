"""A tenant's own Twilio and Firebase credentials (admins only; secrets write-only)."""

import json

from django.db import IntegrityError, transaction

from ilert.errors import Conflict, DomainError, Forbidden

from .. import providers, text, twilio_ownership

SID_TAKEN = "This Twilio account is already connected to ilert and cannot be added here."


def save_provider_settings(tenant, *, by, twilio_account_sid=None, twilio_auth_token=None, twilio_from_number=None,
                           firebase_credentials=None, clear_twilio=False, clear_firebase=False):
    """A tenant's own Twilio / Firebase credentials (admins only). Secrets are write-only."""
    if by is None or not by.is_admin or by.tenant_id != tenant.pk:
        raise Forbidden("Only admins change provider settings.")
    sid = (twilio_account_sid or "").strip()
    if sid and not (sid.startswith("AC") and len(sid) == 34):
        raise DomainError("A Twilio Account SID starts with AC and has 34 characters.", field="twilio_account_sid")
    # An account belongs to the platform or to one organisation: its webhooks are checked with that
    # one auth token and reach only the organisations it serves (webhooks.twilio_sms).
    if providers.sid_taken(tenant, sid):
        raise Conflict(SID_TAKEN, field="twilio_account_sid")
    if twilio_from_number:
        twilio_from_number = text.parse_phone(twilio_from_number, field="twilio_from_number")
    # Proven with Twilio before anything is stored (outside the transaction: an HTTP call).
    twilio_ownership.verify_provider_change(tenant, account_sid=twilio_account_sid, auth_token=twilio_auth_token,
                                            from_number=twilio_from_number, clear=clear_twilio)
    if firebase_credentials:
        try:
            info = json.loads(firebase_credentials)
        except ValueError:
            raise DomainError("Paste the service-account JSON file.", field="firebase_credentials") from None
        if not isinstance(info, dict) or info.get("type") != "service_account" or not all(
                info.get(k) for k in ("project_id", "private_key", "client_email")):
            raise DomainError("A service-account JSON with project_id, private_key and client_email is needed.",
                              field="firebase_credentials")
    try:
        with transaction.atomic():
            saved = providers.save_settings(
                tenant, twilio_account_sid=twilio_account_sid, twilio_auth_token=twilio_auth_token,
                twilio_from_number=twilio_from_number, firebase_credentials=firebase_credentials,
                clear_twilio=clear_twilio, clear_firebase=clear_firebase,
            )
            partial = [saved.twilio_account_sid, saved.twilio_auth_token_encrypted, saved.twilio_from_number]
            if any(partial) and not all(partial):
                raise DomainError("Twilio needs the Account SID, the auth token and a number.",
                                  field="twilio_account_sid")
    except IntegrityError:  # another organisation saved the same SID at the same instant
        raise Conflict(SID_TAKEN, field="twilio_account_sid") from None
    providers.reset_caches()
    return saved
