"""Proving a page's custom domain: the page is served on its domain only after the tenant put a TXT
record `_ilert-status.<domain>` = `ilert-status-verification=<the page's token>` in the domain's DNS.
Checked with dnspython through the system resolver, or the one named by STATUS_DNS_RESOLVER
("ip" or "ip:port"; the tests point it at a local fake)."""

import secrets

import dns.exception
import dns.resolver
from django.conf import settings
from django.core.cache import cache
from django.db import transaction

from ilert import clock
from ilert.errors import DomainError

from ..models import StatusPage
from .checks import may_manage
from .holds import bump_pages

RECORD_PREFIX = "_ilert-status"
VALUE_PREFIX = "ilert-status-verification="
TIMEOUT_SECONDS = 5


def record_name(page):
    return f"{RECORD_PREFIX}.{page.custom_domain}"


def record_value(page):
    return f"{VALUE_PREFIX}{ensure_token(page)}"


def ensure_token(page):
    """The page's token, made on first use (one per page; it stays when the domain changes)."""
    if not page.domain_token:
        page.domain_token = secrets.token_urlsafe(24)
        StatusPage.objects.filter(pk=page.pk, domain_token="").update(domain_token=page.domain_token)
        page.refresh_from_db(fields=["domain_token"])
    return page.domain_token


def forget_domains(*domains):
    """The custom-domain middleware remembers each host's page for a minute: forget these now."""
    keys = [f"status:domain:{d}" for d in domains if d]
    if keys:
        transaction.on_commit(lambda: cache.delete_many(keys))


def _resolver():
    configured = getattr(settings, "STATUS_DNS_RESOLVER", "")
    resolver = dns.resolver.Resolver(configure=not configured)
    if configured:
        host, _, port = configured.rpartition(":") if configured.count(":") == 1 else (configured, "", "")
        resolver.nameservers = [host]
        resolver.port = int(port or 53)
    resolver.timeout = resolver.lifetime = TIMEOUT_SECONDS
    return resolver


def _txt_values(name):
    """The TXT strings at `name`; [] when there are none. A resolver that cannot answer is an error,
    not "no record": a DNS hiccup must not take a verified domain down."""
    try:
        answer = _resolver().resolve(name, "TXT", search=False)
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return []
    except dns.exception.DNSException as exc:
        raise DomainError(f"The DNS lookup of {name} failed ({exc.__class__.__name__}); try again later.",
                          field="custom_domain") from None
    return [b"".join(record.strings).decode("utf-8", "replace") for record in answer]


def check_domain(page, *, by=None):
    """Look the record up now: verified when it holds the page's token, pending otherwise (a record
    removed later takes the domain off). Returns whether the domain is verified."""
    may_manage(by)
    if not page.custom_domain:
        raise DomainError("The page has no custom domain.", field="custom_domain")
    expected = record_value(page)
    found = expected in (value.strip() for value in _txt_values(record_name(page)))
    verified_at = (page.domain_verified_at or clock.now()) if found else None
    if verified_at != page.domain_verified_at:
        page.domain_verified_at = verified_at
        page.save(update_fields=["domain_verified_at"])
        forget_domains(page.custom_domain)
        bump_pages([page.pk], clock.now())
    return found
