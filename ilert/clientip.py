"""The client's address, for throttles and logs.

REMOTE_ADDR is the peer of this process. Behind a reverse proxy that peer is the proxy, shared by
every user, so the client is read from X-Forwarded-For, but only through proxies the operator lists
in TRUSTED_PROXIES (addresses or networks): the header is walked from the right (what the nearest
proxy appended) past trusted proxies, and the first untrusted address is the client. A client
cannot pick its own address by sending the header: it is ignored unless a trusted proxy is the peer.
"""

import ipaddress
from functools import lru_cache

from django.conf import settings


@lru_cache(maxsize=8)
def _networks(proxies):
    return tuple(ipaddress.ip_network(item, strict=False) for item in proxies)


def _trusted(address):
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in _networks(tuple(settings.TRUSTED_PROXIES)))


def client_ip(request):
    peer = request.META.get("REMOTE_ADDR", "")
    if not _trusted(peer):
        return peer
    hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _trusted(hop):
            return hop
    return hops[0] if hops else peer
