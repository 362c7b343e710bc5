"""Status pages: their settings (colours, custom domain, links, audience), the services they show and
their secret access links."""

import ipaddress
import re
import zoneinfo

from django.db import IntegrityError, transaction
from django.utils.text import slugify

from ilert import clock, secrets
from ilert.errors import Conflict, DomainError
from ilert.hosts import own_hosts

from .. import fastpath
from ..access import new_token
from ..models import StatusPage, new_code
from .checks import may_manage, same_tenant
from .domains import ensure_token, forget_domains
from .holds import bump_pages

COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")


def _not_a_page_domain(domain):
    """The product's own host names and IP addresses are never a page's domain: a load balancer's
    health check or a visit by IP would otherwise be served one tenant's page instead of the product."""
    try:
        ipaddress.ip_address(domain)
        return True
    except ValueError:
        return domain in own_hosts() or domain.endswith(".localhost")


def _clean_page(fields):
    """The page's settings checked and normalised, field by field (only those given)."""
    for name in ("brand_color", "background_color", "text_color"):
        if name in fields and not COLOR.match(fields[name] or ""):
            raise DomainError("A colour is #rrggbb.", field=name)
    if "custom_domain" in fields:
        fields["custom_domain"] = _clean_domain(fields["custom_domain"])
    if fields.get("links") is not None:
        _check_links(fields["links"])
    if fields.get("allowed_email_domains") is not None:
        fields["allowed_email_domains"] = _clean_email_domains(fields["allowed_email_domains"])
    if "time_zone" in fields and fields["time_zone"] not in zoneinfo.available_timezones():
        raise DomainError("Unknown time zone.", field="time_zone")
    return fields


HOST_NAME = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+")


def _clean_domain(domain):
    """A custom domain, lower case without the final dot; empty is None (no custom domain)."""
    if not domain:
        return None
    domain = domain.strip().lower().rstrip(".")
    if not HOST_NAME.fullmatch(domain):
        raise DomainError("Enter a host name such as status.example.com.", field="custom_domain")
    if _not_a_page_domain(domain):
        raise DomainError("That host name is the product's own or an IP address; enter your status page's "
                          "host name.", field="custom_domain")
    return domain


def _check_links(links):
    if not isinstance(links, list) or len(links) > 10 or not all(
            isinstance(item, dict) and isinstance(item.get("label"), str) and isinstance(item.get("url"), str)
            and item["url"].startswith(("https://", "http://")) for item in links):
        raise DomainError("Links are up to 10 {label, url} with http(s) URLs.", field="links")


def _clean_email_domains(domains):
    if not isinstance(domains, list) or not all(isinstance(d, str) and "." in d and "@" not in d for d in domains):
        raise DomainError("A list of domains such as example.com.", field="allowed_email_domains")
    return sorted({d.strip().lower() for d in domains})


def create_page(tenant, *, name, slug="", services=(), by=None, **fields):
    may_manage(by)
    services = list(services)
    same_tenant(tenant, services, "services")
    fields = _clean_page(fields)
    slug = slugify(slug or name)[:60]
    if not slug:
        raise DomainError("Enter a slug.", field="slug")
    try:
        with transaction.atomic():
            page = StatusPage.objects.create(tenant=tenant, name=name, slug=slug, **fields)
    except IntegrityError:
        raise Conflict("That slug or custom domain is taken.", field="slug") from None
    page.services.set(services)
    ensure_token(page)
    bump_pages([page.pk], clock.now())
    return page


def update_page(page, *, services=None, by=None, **fields):
    may_manage(by)
    fields = _clean_page(fields)
    if "slug" in fields:
        fields["slug"] = slugify(fields["slug"])[:60]
        if not fields["slug"]:
            raise DomainError("Enter a slug.", field="slug")
    old_domain = page.custom_domain
    for name, value in fields.items():
        setattr(page, name, value)
    if page.custom_domain != old_domain:  # a new domain is proved anew
        page.domain_verified_at = None
        forget_domains(old_domain, page.custom_domain)
    page.changed_at = clock.now()
    try:
        with transaction.atomic():
            page.save()
    except IntegrityError:
        raise Conflict("That slug or custom domain is taken.", field="slug") from None
    if services is not None:
        services = list(services)
        same_tenant(page.tenant, services, "services")
        page.services.set(services)
    bump_pages([page.pk], page.changed_at)
    return page


def delete_page(page, *, by=None):
    may_manage(by)
    pk = page.pk
    forget_domains(page.custom_domain)
    page.delete()
    transaction.on_commit(lambda: fastpath.changed([(pk, clock.now())]))


def new_access_link(page, *, by=None):
    """A new secret link for an audience page: the old link and every visitor's grant (link cookie or
    magic-link login) stop working. Returns the token, shown once."""
    may_manage(by)
    token = new_token()
    page.access_token_hash = secrets.lookup_hash(token)
    page.access_nonce = new_code()
    page.save(update_fields=["access_token_hash", "access_nonce"])
    bump_pages([page.pk], clock.now())
    return token


def end_access_grants(page, *, by=None):
    """Every visitor's grant (link cookie, magic-link login) ends."""
    may_manage(by)
    page.access_nonce = new_code()
    page.save(update_fields=["access_nonce"])
