"""Who may take a phone number for an SMS alert source.

alerts cannot ask Twilio itself (it imports no upper app, DESIGN.md §2): the app that knows the
Twilio accounts registers a check here (notifications, in its AppConfig.ready, with
notifications.twilio_ownership.verify_inbound_number), and alerts.services runs the registered
checks before it saves a source with a new number. A check raises DomainError to refuse.
"""

_checks = []


def register(check):
    if check not in _checks:
        _checks.append(check)


def verify(tenant, number):
    for check in list(_checks):
        check(tenant, number)
