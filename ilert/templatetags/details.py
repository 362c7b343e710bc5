"""`{% for key, value, structured in incident.custom_details|detail_rows %}`: custom details as a
key/value table, not a Python dict. Nested objects become dotted keys ("disk.used"); lists and what
is nested deeper are shown as indented JSON."""

import json

from django import template

register = template.Library()

MAX_DEPTH = 2
MAX_ROWS = 200


def _rows(value, prefix="", depth=0):
    for key, item in value.items():
        name = f"{prefix}{key}"
        if isinstance(item, dict) and item and depth < MAX_DEPTH:
            yield from _rows(item, f"{name}.", depth + 1)
        elif isinstance(item, (dict, list)):
            yield name, json.dumps(item, indent=2, ensure_ascii=False, sort_keys=True), True
        else:
            yield name, "" if item is None else (json.dumps(item) if isinstance(item, bool) else str(item)), False


@register.filter
def detail_rows(value):
    if not isinstance(value, dict):
        return [("value", json.dumps(value, indent=2, ensure_ascii=False), True)] if value not in (None, "") else []
    return list(_rows(value))[:MAX_ROWS]
