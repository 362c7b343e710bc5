"""Server-side SVG: the response-time chart and the per-day uptime bar. Only numbers and dates go
into the markup, so it is safe to mark it safe.

The chart's times are instants, shown in the reader's zone (exact). The bar's days are UTC days and
say so: daily roll-ups are UTC days and hourly ones are kept only UPTIME_HOURLY_RETENTION_DAYS, so a
90-day bar in the reader's zone could not be exact (and not at all for :30/:45 zones, whose days
start mid-hour)."""

from django.utils.safestring import mark_safe

from ilert.readerzone import UTC, zone_label

GREEN, AMBER, RED, GRAY, BLUE = "#1f8a4c", "#d99a1e", "#d13b3b", "#e3e6eb", "#2454d6"


def _nice(value):
    for step in (10, 20, 50, 100, 200, 250, 500, 1000, 2000, 2500, 5000, 10000, 20000, 30000, 60000, 120000):
        if value <= step:
            return step
    return int(value) + 1


def response_chart(series, width=720, height=180, zone=UTC):
    """`series`: [(slot start, avg ms or None, down checks)] from stats.response_series; the time
    labels are in `zone`, the last one names it."""
    left, right, top, bottom = 44, 8, 10, 22
    plot_w, plot_h = width - left - right, height - top - bottom
    values = [ms for _, ms, _ in series if ms is not None]
    peak = _nice(max(values) * 1.1) if values else 100
    n = max(1, len(series))
    slot_w = plot_w / n

    def x(i):
        return left + (i + 0.5) * slot_w

    def y(ms):
        return top + plot_h - (ms / peak) * plot_h

    parts = [
        f'<svg class="uptime-chart" viewBox="0 0 {width} {height}" width="100%" role="img" '
        f'aria-label="Response time over the last 24 hours" xmlns="http://www.w3.org/2000/svg">',
        f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="#fafbfc" stroke="{GRAY}"/>',
    ]
    for fraction in (0.5, 1.0):
        gy = top + plot_h - fraction * plot_h
        parts.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{gy:.1f}" y2="{gy:.1f}" stroke="{GRAY}"/>')
        parts.append(f'<text x="{left - 6}" y="{gy + 4:.1f}" text-anchor="end" font-size="11" fill="#5f6b7a">'
                     f'{int(peak * fraction)} ms</text>')
    parts.append(f'<text x="{left - 6}" y="{top + plot_h + 4}" text-anchor="end" font-size="11" '
                 'fill="#5f6b7a">0</text>')
    for i, (_, _, downs) in enumerate(series):
        if downs:
            parts.append(f'<rect class="down" x="{left + i * slot_w:.1f}" y="{top}" width="{max(slot_w, 1.5):.1f}" '
                         f'height="{plot_h}" fill="{RED}" opacity="0.25"/>')
    line, lines = [], []
    for i, (_, ms, _) in enumerate(series):
        if ms is None:
            if line:
                lines.append(line)
            line = []
        else:
            line.append(f"{x(i):.1f},{y(ms):.1f}")
    if line:
        lines.append(line)
    for points in lines:
        if len(points) == 1:
            px, py = points[0].split(",")
            parts.append(f'<circle cx="{px}" cy="{py}" r="2" fill="{BLUE}"/>')
        else:
            parts.append(f'<polyline points="{" ".join(points)}" fill="none" stroke="{BLUE}" stroke-width="1.5"/>')
    if series:
        for i in (0, n // 2, n - 1):
            local = series[i][0].astimezone(zone)
            label = f"{local:%H:%M}" + (f" {zone_label(local)}" if i == n - 1 else "")
            anchor = "start" if i == 0 else "end" if i == n - 1 else "middle"
            parts.append(f'<text x="{x(i):.1f}" y="{height - 6}" text-anchor="{anchor}" font-size="11" '
                         f'fill="#5f6b7a">{label}</text>')
    if not values:
        parts.append(f'<text x="{left + plot_w / 2}" y="{top + plot_h / 2}" text-anchor="middle" font-size="12" '
                     f'fill="#5f6b7a">No response times yet</text>')
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - numbers and dates only


def bar_color(uptime):
    if uptime is None:
        return GRAY
    if uptime >= 99.9:
        return GREEN
    if uptime >= 99.0:
        return AMBER
    return RED


def uptime_bar(days, width=720, height=34):
    """`days`: [(day, Aggregate or None)] from stats.daily_uptime, oldest first."""
    n = max(1, len(days))
    gap = 2
    bar_w = (width - gap * (n - 1)) / n
    parts = [f'<svg class="uptime-bar" viewBox="0 0 {width} {height}" width="100%" role="img" '
             f'aria-label="Uptime per UTC day" xmlns="http://www.w3.org/2000/svg">']
    for i, (day, agg) in enumerate(days):
        uptime = agg.uptime if agg is not None else None
        label = (f"{day:%Y-%m-%d} (UTC day): no data" if uptime is None else
                 f"{day:%Y-%m-%d} (UTC day): {uptime:.2f}% up ({agg.down} of {agg.up + agg.down} checks failed)")
        parts.append(f'<rect x="{i * (bar_w + gap):.1f}" y="0" width="{bar_w:.1f}" height="{height}" rx="2" '
                     f'fill="{bar_color(uptime)}" data-day="{day:%Y-%m-%d}"><title>{label}</title></rect>')
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - numbers and dates only
