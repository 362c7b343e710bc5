"""The real settings plus the TEST-ONLY escalation stand-in (see __init__.py)."""

from ilert.settings import *  # noqa: F403

INSTALLED_APPS = [*INSTALLED_APPS, "tests.e2e.stand_in.apps.StandInConfig"]  # noqa: F405
