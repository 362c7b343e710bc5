"""One adapter per vendor: reads its REST API into importers.spec objects and reads its own view
of who is on call (for the equivalence check). Each exposes `vendor`, `label`, `client`,
`fetch(only) -> Organisation` and `vendor_timeline(schedule_id, start, end)`."""

import time
from importlib import import_module

VENDORS = {"pagerduty": ("pagerduty", "PagerDuty"), "opsgenie": ("opsgenie", "Opsgenie"),
           "oncall": ("oncall", "OnCall")}


def adapter_for(vendor, api_key, base_url=None, *, sleep=time.sleep):
    if vendor not in VENDORS:
        raise ValueError(f"Unknown vendor {vendor!r}; one of {', '.join(VENDORS)}.")
    module, name = VENDORS[vendor]
    return getattr(import_module(f"importers.vendors.{module}"), name)(api_key, base_url or None, sleep=sleep)
