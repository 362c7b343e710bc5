"""Ping: ICMP echo, where this process may send it. Unprivileged ICMP sockets need the process's
group in net.ipv4.ping_group_range; raw sockets need root or CAP_NET_RAW. Without either the
result is "unavailable" (never a fake success, never a page)."""

import socket

import icmplib

from ilert.netguard import BlockedTarget

from . import options
from .base import down, refused, resolve, unavailable, up

# The monitor fields this kind uses besides the common ones (the dashboard form shows them for it).
OPTIONS = ()


def clean(values):
    """A host name or IP address (a port, if given, is kept and not used)."""
    values["target"] = options.host(values["target"])


def guarded(values):
    return [(values["target"], values.get("port") or 0, "target")]

_mode = None


def icmp_mode():
    """"unprivileged", "privileged" or None, found by opening the sockets (cached per process)."""
    global _mode
    if _mode is None:
        _mode = "none"
        for mode, kind in (("unprivileged", socket.SOCK_DGRAM), ("privileged", socket.SOCK_RAW)):
            try:
                socket.socket(socket.AF_INET, kind, socket.IPPROTO_ICMP).close()
            except OSError:
                continue
            _mode = mode
            break
    return None if _mode == "none" else _mode


UNAVAILABLE_MESSAGE = (
    "Ping is unavailable on this worker: it may not send ICMP (needs its group in "
    "net.ipv4.ping_group_range, or CAP_NET_RAW). Nothing was checked."
)


async def check(spec):
    mode = icmp_mode()
    if mode is None:
        return unavailable(UNAVAILABLE_MESSAGE)
    try:
        address = await resolve(spec.target, 0)
    except BlockedTarget as exc:
        return refused(exc)
    try:
        host = await icmplib.async_ping(
            address, count=3, interval=0.2, timeout=max(0.5, spec.timeout - 0.5), privileged=(mode == "privileged"),
        )
    except icmplib.SocketPermissionError:
        return unavailable(UNAVAILABLE_MESSAGE)
    except icmplib.ICMPLibError as exc:
        return down(f"Ping to {spec.target} failed: {exc}")
    if not host.is_alive:
        return down(f"No echo reply from {spec.target} ({host.packets_sent} sent, 0 received)")
    loss = f", {host.packet_loss:.0%} loss" if host.packet_loss else ""
    return up(f"{spec.target} answers ping in {host.avg_rtt:.1f} ms{loss}", max(0, round(host.avg_rtt)))
