"""The demo organisation gets schedules with someone on call now."""

import pytest
from django.core import mail

from ilert import clock
from schedules import demo, selectors

pytestmark = pytest.mark.django_db


def test_the_demo_seed_makes_a_weekly_rotation_with_someone_on_call(tenant, admin):
    demo.seed(tenant, admin)
    schedules = {s.name: s for s in selectors.schedules(tenant)}
    assert set(schedules) == {"Primary on-call", "Holiday cover"}
    primary = schedules["Primary on-call"]
    assert [layer.name for layer in primary.layers.all()] == ["Nights", "Weekly"]
    assert len(primary.layers.get(name="Weekly").ordered_users()) == 3
    assert selectors.on_call(primary, clock.now()) is not None
    assert len(mail.outbox) == 2  # the two demo colleagues are invited
