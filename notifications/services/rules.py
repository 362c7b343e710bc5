"""A user's notification rules and settings, and which steps page them (their rules, else the
defaults)."""

from dataclasses import dataclass

from django.db import IntegrityError, transaction

from alerts.models import Priority
from ilert.errors import Conflict, DomainError

from ..models import ContactMethod, NotificationRule, NotificationSettings
from .access import check_can_manage

MAX_DELAY_MINUTES = 24 * 60
# With no rules a user is paged by email, plus SMS for HIGH where they have a verified phone.
EMAIL = "email"
SMS = "sms"


def add_rule(user, *, priority, contact_method, delay_minutes=0, by=None):
    if by is not None:
        check_can_manage(by, user)
    if priority not in Priority.values:
        raise DomainError("Must be HIGH or LOW.", field="priority")
    if contact_method is None or contact_method.user_id != user.pk:
        raise DomainError("Pick one of this user's contact methods.", field="contact_method")
    if delay_minutes is None or not 0 <= int(delay_minutes) <= MAX_DELAY_MINUTES:
        raise DomainError(f"Between 0 and {MAX_DELAY_MINUTES} minutes.", field="delay_minutes")
    try:
        with transaction.atomic():
            return NotificationRule.objects.create(
                tenant_id=user.tenant_id, user=user, priority=priority, contact_method=contact_method,
                delay_minutes=int(delay_minutes),
            )
    except IntegrityError:
        raise Conflict("This step already exists.", field="contact_method") from None


def update_rule(rule, *, by=None, **fields):
    if by is not None:
        check_can_manage(by, rule.user)
    if "priority" in fields and fields["priority"] not in Priority.values:
        raise DomainError("Must be HIGH or LOW.", field="priority")
    if "contact_method" in fields and (fields["contact_method"] is None
                                       or fields["contact_method"].user_id != rule.user_id):
        raise DomainError("Pick one of this user's contact methods.", field="contact_method")
    if "delay_minutes" in fields and not 0 <= int(fields["delay_minutes"]) <= MAX_DELAY_MINUTES:
        raise DomainError(f"Between 0 and {MAX_DELAY_MINUTES} minutes.", field="delay_minutes")
    for key, value in fields.items():
        setattr(rule, key, value)
    try:
        with transaction.atomic():
            rule.save()
    except IntegrityError:
        raise Conflict("This step already exists.", field="contact_method") from None
    return rule


def delete_rule(rule, *, by=None):
    if by is not None:
        check_can_manage(by, rule.user)
    rule.delete()


def settings_for(user):
    found = NotificationSettings.objects.filter(user=user).first()
    return found or NotificationSettings(tenant_id=user.tenant_id, user=user)


def update_settings(user, *, by=None, **fields):
    if by is not None:
        check_can_manage(by, user)
    current = settings_for(user)
    if "reminder_minutes" in fields and not 5 <= int(fields["reminder_minutes"]) <= 24 * 60:
        raise DomainError("Between 5 and 1440 minutes.", field="reminder_minutes")
    method = fields.get("notice_contact_method")
    if method is not None and method.user_id != user.pk:
        raise DomainError("Pick one of this user's contact methods.", field="notice_contact_method")
    for key, value in fields.items():
        setattr(current, key, value)
    current.save()
    return current



# --- which steps page a user -----------------------------------------------------------------------


@dataclass
class Step:
    key: str
    channel: str
    address: str
    contact_method: ContactMethod | None
    delay: int


def usable_methods(user, kind=None, methods=None):
    if methods is None:
        methods = ContactMethod.objects.filter(user=user).order_by("created_at", "id")
    return [m for m in methods if m.usable and (kind is None or m.kind == kind)]


def default_steps(user, priority, methods=None):
    """No rules: email at 0 (a verified address, else the account's), plus SMS at 0 for HIGH when a
    verified phone exists."""
    emails = usable_methods(user, EMAIL, methods)
    if emails:
        steps = [Step(f"default:email:{emails[0].pk}", EMAIL, emails[0].address, emails[0], 0)]
    else:
        steps = [Step("default:email", EMAIL, user.email, None, 0)]
    if priority == Priority.HIGH:
        phones = usable_methods(user, SMS, methods)
        if phones:
            steps.append(Step(f"default:sms:{phones[0].pk}", SMS, phones[0].address, phones[0], 0))
    return steps


def steps_for(user, priority, *, rules=None, methods=None):
    """(steps, warning). A user's rules for the priority; unusable steps are skipped; no usable rule
    at all means the defaults (and a warning on the timeline). `rules` (all of the user's, ordered
    by delay) and `methods` may be given preloaded."""
    if rules is None:
        rules = NotificationRule.objects.filter(user=user).select_related("contact_method").order_by(
            "delay_minutes", "id")
    rules = [rule for rule in rules if rule.priority == priority]
    steps = [
        Step(f"rule:{rule.pk}", rule.contact_method.kind, rule.contact_method.address, rule.contact_method,
             rule.delay_minutes)
        for rule in rules if rule.contact_method.usable
    ]
    if steps:
        skipped = len(rules) - len(steps)
        warning = f"{skipped} of {user.display_name}'s steps skipped (contact method not verified)." if skipped else ""
        return steps, warning
    if rules:
        return default_steps(user, priority, methods), (
            f"None of {user.display_name}'s {priority} notification rules can be used (unverified or opted-out "
            "contact methods): using the defaults.")
    return default_steps(user, priority, methods), (
        f"{user.display_name} has no {priority} notification rules: using the defaults.")

