"""One adapter per vendor: reads its REST API into importers.spec objects and reads its own view
of who is on call (for the equivalence check). Each exposes `vendor`, `label`, `client`,
`fetch(only) -> Organisation` and `vendor_timeline(schedule_id, start, end)`."""

import time


def adapter_for(vendor, api_key, base_url=None, *, sleep=time.sleep):
    from .opsgenie import Opsgenie
    from .pagerduty import PagerDuty

    adapters = {"pagerduty": PagerDuty, "opsgenie": Opsgenie}
    if vendor not in adapters:
        raise ValueError(f"Unknown vendor {vendor!r}; one of {', '.join(adapters)}.")
    return adapters[vendor](api_key, base_url or None, sleep=sleep)
