import pytest

from uptime import engine, services

from .servers import HttpTarget


@pytest.fixture(autouse=True)
def _engine_driven_by_the_test(settings):
    """Checks run when a test runs the engine, not as a side effect of creating a monitor; local
    servers are allowed (self-hosted mode) unless a test proves the SaaS refusal."""
    settings.ILERT_KICK_TASKS = False
    settings.ALLOW_PRIVATE_TARGETS = True


@pytest.fixture
def http_target():
    target = HttpTarget()
    yield target
    target.stop()


def check(monitor):
    """Make the monitor due now and run the engine once, as a worker would; returns it refreshed."""
    services.check_now(monitor)
    assert engine.run() >= 1
    monitor.refresh_from_db()
    return monitor
