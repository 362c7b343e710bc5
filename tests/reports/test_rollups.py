"""The roll-ups kept incrementally from domain events equal a rebuild and the live query, after
random histories (hypothesis); folding is idempotent."""

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from alerts import services
from alerts.ingest import EventType, InboundEvent
from alerts.models import Incident
from reports import queries, rollups
from reports.models import DailyRollup, DirtyIncident
from reports.params import parse
from tests.alerts.factories import make_source
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
START = datetime(2026, 3, 27, 20, tzinfo=UTC)  # around Berlin's DST change on the 29th

step = st.tuples(
    st.sampled_from(["open", "accept", "resolve", "assign", "escalate", "source_resolve"]),
    st.integers(0, 2),  # which source
    st.integers(0, 3),  # which key
    st.integers(0, 1),  # which user
    st.integers(1, 240),  # minutes since the previous step
)


def _rows(tenant):
    return sorted((r.zone, r.day, r.dim, r.value, tuple(r.as_row_values()) if hasattr(r, "as_row_values") else
                   (r.incidents, r.maintenance, r.acked, r.ack_sum, r.resolved, r.resolve_sum, r.auto_resolved,
                    r.quick, r.noise, r.flapping, r.events, sorted(r.ack_hist.items()), sorted(r.resolve_hist.items())))
                  for r in DailyRollup.objects.filter(tenant=tenant))


def _play(tenant, sources, users, steps):
    now = START
    for kind, s, k, u, minutes in steps:
        now += timedelta(minutes=minutes)
        source, key, user = sources[s], f"key-{k}", users[u]
        open_ = Incident.objects.filter(alert_source=source, incident_key=key, status__in=Incident.OPEN).first()
        if kind == "open" or open_ is None:
            services.ingest(source, InboundEvent(EventType.ALERT, summary=key, incident_key=key), now=now)
        elif kind == "accept":
            services.accept(open_, by=user, via="sms", now=now)
        elif kind == "resolve":
            services.resolve(open_, by=user, now=now)
        elif kind == "assign":
            services.assign(open_, user, by=user, now=now)
        elif kind == "escalate":
            services.escalate(open_, by=user, now=now)
        else:
            services.ingest(source, InboundEvent(EventType.RESOLVE, incident_key=key), now=now)
        if minutes % 7 == 0:  # fold now and then, mid-history, like the sweeper
            rollups.catch_up(tenant)


@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), phases=[Phase.generate])
@given(steps=st.lists(step, min_size=1, max_size=25))
def test_incremental_rollups_equal_a_rebuild_and_the_live_query(tenant, steps):
    tenant.timezone = "Europe/Berlin"
    tenant.save()
    Incident.objects.filter(tenant=tenant).delete()  # hypothesis reuses the test's database
    DailyRollup.objects.filter(tenant=tenant).delete()
    users = [UserFactory(tenant=tenant, role="responder", timezone=tz) for tz in ("", "America/New_York")]
    sources = [make_source(tenant, name=f"s{i}") for i in range(3)]
    if len(steps) % 3 == 0:  # a maintenance window over part of the history
        services.add_maintenance_window(sources[0], start=START, end=START + timedelta(hours=6))
    rollups.catch_up(tenant)
    _play(tenant, sources, users, steps)
    rollups.catch_up(tenant)
    assert not DirtyIncident.objects.filter(tenant=tenant).exists()
    incremental = _rows(tenant)
    query = {"from": "2026-03-20", "to": "2026-05-30", "group": "assignee"}
    for zone in ("Europe/Berlin", "America/New_York"):
        p = parse({**query, "tz": zone}, tenant=tenant, user=users[0], allowed=queries.RESPONSE_FILTERS)
        for name in ("response", "noise", "people", "delivery"):
            function = queries.REPORTS[name][0]
            assert function(p, rollup=True) == function(p, rollup=False), (name, zone)
    rollups.rebuild(tenant)
    assert _rows(tenant) == incremental


def test_folding_twice_changes_nothing(tenant, admin):
    source = make_source(tenant, name="db")
    incident = services.ingest(source, InboundEvent(EventType.ALERT, summary="x", incident_key="x"),
                               now=START).incident
    rollups.catch_up(tenant)
    before = _rows(tenant)
    DirtyIncident.objects.create(tenant=tenant, incident=incident)  # the same change announced again
    rollups.catch_up(tenant)
    assert _rows(tenant) == before and before


def test_a_change_during_a_fold_keeps_its_incident_dirty(tenant, responder):
    """The fold deletes only the dirty marks it read (their token): a change committed meanwhile
    gives the mark a new token, so the next fold sees it."""
    source = make_source(tenant, name="db")
    incident = services.ingest(source, InboundEvent(EventType.ALERT, summary="x", incident_key="x"),
                               now=START).incident
    token = DirtyIncident.objects.get(incident=incident).token
    services.accept(incident, by=responder, now=START + timedelta(minutes=1))
    assert DirtyIncident.objects.get(incident=incident).token != token
