"""What the check kinds share when they validate a monitor's options (services.create_monitor and
update_monitor call each kind's `clean`): host names and the DomainError they raise. Pure: no I/O."""

import ipaddress
import re

from ilert.errors import DomainError

_HOST = re.compile(r"^(?=.{1,253}$)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9])?)(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9])?)*\.?$",
                   re.IGNORECASE)


def host(value, field="target"):
    """A host name (lower case, no trailing dot) or an IP address ([v6] brackets taken off)."""
    value = (value or "").strip()
    if value.startswith("[") and value.endswith("]"):
        value = value[1:-1]
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        pass
    if not _HOST.match(value):
        raise DomainError("Enter a host name or an IP address (no scheme, path or port).", field=field)
    return value.lower().rstrip(".")


def one_of(values, name, choices, message=None):
    if values.get(name) not in choices:
        raise DomainError(message or f"Must be one of {', '.join(choices)}.", field=name)
