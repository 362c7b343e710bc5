"""How a status page writes a time: in the page's own zone (UTC when it has none), always with the
zone named ("2026-12-03 21:08 CET", "2026-12-03 20:08 UTC"), never a bare clock. The whole date
every time: a page is cached and read for days, so "today" would go stale."""

from ilert.readerzone import zone_label

from .history import zone_of


def page_time(moment, page):
    local = moment.astimezone(zone_of(page))
    return f"{local:%Y-%m-%d %H:%M} {zone_label(local)}"


def zone_name(page):
    """The zone the page's times are in, for the footer: "Europe/Berlin" or "UTC"."""
    key = zone_of(page).key
    return "UTC" if key in UTC_NAMES else key


UTC_NAMES = {"UTC", "Etc/UTC", "Etc/GMT", "GMT", "Zulu", "Etc/Zulu", "Universal", "Etc/Universal"}
