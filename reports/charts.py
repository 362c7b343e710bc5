"""Server-side SVG charts for the reports, drawn like the uptime charts (uptime/charts.py): a
viewBox scaled to the card's width, so they fit a 390 px phone. Only numbers, dates and our own
labels go into the markup, so it is safe to mark it safe."""

from django.utils.html import escape
from django.utils.safestring import mark_safe

BLUE, GRAY, RED, AMBER = "#2454d6", "#e3e6eb", "#d13b3b", "#d99a1e"  # the uptime charts' colours
MUTED = "#5f6b7a"


def _nice(value):
    for step in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000, 100000):
        if value <= step:
            return step
    return int(value) + 1


def duration(seconds):
    if seconds is None:
        return "—"
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min" + (f" {seconds % 60} s" if seconds % 60 and seconds < 600 else "")
    if seconds < 86400:
        return f"{seconds // 3600} h" + (f" {seconds % 3600 // 60} min" if seconds % 3600 // 60 else "")
    return f"{seconds // 86400} d" + (f" {seconds % 86400 // 3600} h" if seconds % 86400 // 3600 else "")


def _frame(label, width, height):
    return [f'<svg class="report-chart" viewBox="0 0 {width} {height}" width="100%" role="img" '
            f'aria-label="{escape(label)}" xmlns="http://www.w3.org/2000/svg">']


def _axis(parts, left, top, plot_w, plot_h, peak, fmt):
    parts.append(f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="#fafbfc" stroke="{GRAY}"/>')
    for fraction in (0.5, 1.0):
        gy = top + plot_h - fraction * plot_h
        parts.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{gy:.1f}" y2="{gy:.1f}" stroke="{GRAY}"/>')
        parts.append(f'<text x="{left - 6}" y="{gy + 4:.1f}" text-anchor="end" font-size="11" fill="{MUTED}">'
                     f'{escape(fmt(peak * fraction))}</text>')


def _dates(parts, points, x, height):
    n = len(points)
    for i in sorted({0, n // 2, n - 1}):
        anchor = "start" if i == 0 else "end" if i == n - 1 else "middle"
        parts.append(f'<text x="{x(i):.1f}" y="{height - 6}" text-anchor="{anchor}" font-size="11" '
                     f'fill="{MUTED}">{escape(points[i]["start"])}</text>')


def incidents_chart(trend, width=720, height=180):
    """Bars: incidents per day or week; the likely-noise part of each bar in amber."""
    left, right, top, bottom = 44, 8, 10, 22
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = _nice(max([p["incidents"] for p in trend] + [1]))
    n = max(1, len(trend))
    slot = plot_w / n
    parts = _frame("Incidents per period, likely noise in amber", width, height)
    _axis(parts, left, top, plot_w, plot_h, peak, lambda v: f"{int(v)}")
    for i, point in enumerate(trend):
        for value, color in ((point["incidents"], BLUE), (point["noise"], AMBER)):
            if value:
                h = value / peak * plot_h
                parts.append(f'<rect x="{left + i * slot + slot * 0.1:.1f}" y="{top + plot_h - h:.1f}" '
                             f'width="{max(slot * 0.8, 1):.1f}" height="{h:.1f}" fill="{color}">'
                             f'<title>{escape(point["start"])}: {value}</title></rect>')
    if trend:
        _dates(parts, trend, lambda i: left + (i + 0.5) * slot, height)
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - numbers, dates and our labels only


def times_chart(trend, width=720, height=180):
    """Lines: mean time to acknowledge (blue) and to resolve (red) per day or week."""
    left, right, top, bottom = 56, 8, 10, 22
    plot_w, plot_h = width - left - right, height - top - bottom
    values = [p[m]["mean"] for p in trend for m in ("mtta", "mttr") if p[m]["mean"] is not None]
    peak = max(values + [60]) * 1.1
    n = max(1, len(trend))
    slot = plot_w / n

    def x(i):
        return left + (i + 0.5) * slot

    parts = _frame("Mean time to acknowledge (blue) and to resolve (red)", width, height)
    _axis(parts, left, top, plot_w, plot_h, peak, duration)
    for measure, color in (("mtta", BLUE), ("mttr", RED)):
        points = [(x(i), top + plot_h - p[measure]["mean"] / peak * plot_h)
                  for i, p in enumerate(trend) if p[measure]["mean"] is not None]
        if len(points) == 1:
            parts.append(f'<circle cx="{points[0][0]:.1f}" cy="{points[0][1]:.1f}" r="2.5" fill="{color}"/>')
        elif points:
            line = " ".join(f"{px:.1f},{py:.1f}" for px, py in points)
            parts.append(f'<polyline points="{line}" fill="none" stroke="{color}" stroke-width="1.5"/>')
    if trend:
        _dates(parts, trend, x, height)
    if not values:
        parts.append(f'<text x="{left + plot_w / 2}" y="{top + plot_h / 2}" text-anchor="middle" font-size="12" '
                     f'fill="{MUTED}">No acknowledged or resolved incidents</text>')
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - numbers, dates and our labels only


def share_bars(items, width=720, row=22):
    """Horizontal bars: [(label, value)], e.g. pages per channel or replies per channel."""
    peak = max([v for _, v in items] + [1])
    height = max(row, row * len(items))
    parts = _frame("Shares", width, height)
    label_w = 120
    for i, (label, value) in enumerate(items):
        w = (width - label_w - 60) * value / peak
        y = i * row
        parts.append(f'<text x="{label_w - 6}" y="{y + 15}" text-anchor="end" font-size="12" fill="{MUTED}">'
                     f'{escape(label)}</text>')
        parts.append(f'<rect x="{label_w}" y="{y + 4}" width="{max(w, 1):.1f}" height="{row - 8}" fill="{BLUE}"/>')
        parts.append(f'<text x="{label_w + w + 6:.1f}" y="{y + 15}" font-size="12" fill="#1b2330">{value}</text>')
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - escaped labels and numbers
