"""A stand-in for the escalation engine, for end-to-end runs and the notify benchmark only.

TEST-ONLY — REPLACE AT MERGE: the escalation engine (escalation/) calls
notifications.services.notify when it pages a level. Until that engine is in this branch, this tiny
app connects a receiver to alerts.events.incident_changed that pages one named user
(STAND_IN_PAGE_USER, an email) on "created", with the round tag the engine will use. Processes load
it through DJANGO_SETTINGS_MODULE=tests.e2e.stand_in.settings; the product never does.
"""
