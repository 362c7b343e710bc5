"""CSV of a report: one row per line of each section (total, previous, groups, keys, trend, …),
nested figures flattened to columns like mtta_mean."""

import csv
import io

FORMULA_LEADS = ("=", "+", "-", "@", "\t", "\r")  # OWASP CSV injection

SECTIONS = {
    "response": ("total", "previous", "groups", "trend"),
    "noise": ("total", "sources", "top_keys", "trend"),
    "people": ("users",),
    "delivery": ("channels", "replies"),
}


def _flat(row, prefix=""):
    out = {}
    for key, value in row.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}_"))
        else:
            out[f"{prefix}{key}"] = value
    return out


def to_csv(name, data):
    rows = []
    for section in SECTIONS[name]:
        value = data[section]
        for item in ([value] if isinstance(value, dict) else value):
            rows.append({"section": section, **_flat(item)})
    columns = []
    for row in rows:
        columns += [c for c in row if c not in columns]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns or ["section"], restval="")
    writer.writeheader()
    for row in rows:
        # A cell starting with = + - @ (or a tab or CR before one) would be a formula in a spreadsheet: quote it.
        writer.writerow({k: f"'{v}" if isinstance(v, str) and v[:1] in FORMULA_LEADS else v for k, v in row.items()})
    return buffer.getvalue()
