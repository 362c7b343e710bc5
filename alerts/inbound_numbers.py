"""Who may take a phone number for an SMS alert source, and which Twilio account signed an inbound
SMS.

alerts cannot ask Twilio itself (it imports no upper app, docs/architecture.md §2): the app that knows the
Twilio accounts registers here (notifications, in its AppConfig.ready):
- a check (notifications.twilio_ownership.verify_inbound_number) that alerts.services runs before it
  saves a source with a new number; it raises DomainError to refuse;
- an account lookup: AccountSid → (auth token, the organisation owning the account, or None for the
  platform's), so the SMS webhook checks each request with the token of the account it names.
"""

_checks = []
_account_lookups = []


def register(check):
    if check not in _checks:
        _checks.append(check)


def verify(tenant, number):
    for check in list(_checks):
        check(tenant, number)


def register_account_lookup(lookup):
    if lookup not in _account_lookups:
        _account_lookups.append(lookup)


def webhook_account(account_sid):
    """(auth token, owning tenant id or None for the platform) of the Twilio account `account_sid`,
    or None when no registered lookup knows it."""
    for lookup in list(_account_lookups):
        found = lookup(account_sid)
        if found is not None:
            return found
    return None
