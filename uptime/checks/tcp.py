"""TCP: the port accepts a connection within the timeout."""

import asyncio
import time

from ilert.errors import DomainError
from ilert.netguard import BlockedTarget

from . import options
from .base import down, os_error_text, refused, resolve, seconds, up

# The monitor fields this kind uses besides the common ones (the dashboard form shows them for it).
OPTIONS = ("port",)


def clean(values):
    """A host name or IP address and a port."""
    values["target"] = options.host(values["target"])
    if not values.get("port"):
        raise DomainError("A TCP check needs a port.", field="port")


def guarded(values):
    """(host, port, field) of every address a check connects to: services run the outbound guard."""
    return [(values["target"], values["port"], "target")]


async def check(spec):
    where = f"{spec.target}:{spec.port}"
    try:
        address = await resolve(spec.target, spec.port)
    except BlockedTarget as exc:
        return refused(exc)
    started = time.perf_counter()
    try:
        _reader, writer = await asyncio.wait_for(asyncio.open_connection(address, spec.port), spec.timeout)
    except TimeoutError:
        return down(f"No answer from {where} within {seconds(spec.timeout)}")
    except OSError as exc:
        return down(f"Cannot connect to {where}: {os_error_text(exc) or exc}")
    elapsed = round((time.perf_counter() - started) * 1000)
    writer.close()
    try:
        await asyncio.wait_for(writer.wait_closed(), 1)
    except (OSError, TimeoutError):
        pass
    return up(f"{where} accepts connections", elapsed)
