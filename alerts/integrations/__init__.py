"""Inbound integrations: one module (or package) per format, each a thin adapter that turns its
payload into an alerts.ingest.InboundEvent and calls alerts.services.ingest, and declares itself
as INTEGRATION (alerts.integrations.spec): name, label, endpoints, set-up template, settings and
option checks. alerts.integrations.registry lists them; everything else reads the declarations
(docs/recipes/add-an-inbound-integration.md). `base` holds what the adapters share.
"""
