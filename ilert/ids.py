"""The one parser for an object id typed into a URL query, a form or a JSON value."""

ID_MAX = 2**63 - 1  # the largest value a (big)integer primary key can hold


def parse_id(value):
    """ASCII digits within the range of a database id, else None.

    `str.isdigit` alone is not enough: it accepts "²" and "٣", which `int()` and the database refuse
    (a 500); an id out of range matches nothing and must not reach the database either."""
    if not isinstance(value, str) or not value.isascii() or not value.isdigit() or len(value) > 19:
        return None
    number = int(value)
    return number if 0 < number <= ID_MAX else None
