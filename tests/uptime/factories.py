from ilert import clock
from tests.factories import register
from uptime import services
from uptime.models import CheckResult, UptimeMonitor


def make_monitor(tenant, **fields):
    """A paused HTTP monitor of a public address by default (no check runs unless a test wants one)."""
    fields.setdefault("name", f"Monitor {UptimeMonitor.objects.count() + 1}")
    fields.setdefault("check_type", "http")
    fields.setdefault("target", "http://93.184.216.34/")
    fields.setdefault("paused", True)
    return services.create_monitor(tenant, **fields)


def make_result(tenant, monitor=None, outcome="up", response_ms=42, at=None):
    monitor = monitor or make_monitor(tenant)
    return CheckResult.objects.create(tenant=tenant, monitor=monitor, checked_at=at or clock.now(), outcome=outcome,
                                      response_ms=response_ms, status_code=200, message="HTTP 200")


register(UptimeMonitor, make_monitor)
register(CheckResult, make_result)
