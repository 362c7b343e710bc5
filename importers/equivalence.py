"""Proof of equivalence: who is on call per the vendor's own computed view against ours.

The vendor's view is what its API says it will page (PagerDuty's final schedule, Opsgenie's final
timeline, Grafana OnCall's final shifts): (start, end, {vendor user ids}) pieces. Ours is
schedules.selectors.timeline. Both are cut at every boundary of either; each piece where the sets
of people differ is a Difference (adjacent equal ones joined). A vendor view may name several people
at once (Opsgenie rotations overlap, OnCall shifts too): our schedules page one person at a time,
so such a piece is always a difference, and shown as one."""

from dataclasses import dataclass
from datetime import datetime

from accounts.models import User
from schedules import selectors


@dataclass
class Difference:
    start: datetime
    end: datetime
    theirs: tuple  # names (emails) the vendor has on call
    ours: tuple
    vendor: str = "vendor"

    def line(self):
        def who(names):
            return ", ".join(names) or "nobody"

        return (f"{self.start:%Y-%m-%d %H:%M}–{self.end:%Y-%m-%d %H:%M} UTC: {self.vendor} has {who(self.theirs)}, "
                f"ilert has {who(self.ours)}")


def compare(schedule, theirs, start, end, user_ids, *, vendor="vendor"):
    """Differences between the vendor's pieces `theirs` and our timeline of `schedule` in
    [start, end). `user_ids` maps vendor user ids to our user ids."""
    ours = selectors.timeline(schedule, start, end)
    cuts = {start, end}
    for s, e, _who in theirs:
        cuts.update(t for t in (s, e) if start < t < end)
    for segment in ours:
        cuts.update(t for t in (segment.start, segment.end) if start < t < end)
    cuts = sorted(cuts)
    pks = {pk for pk in user_ids.values()} | {segment.user.pk for segment in ours}
    emails = dict(User.objects.filter(pk__in=pks).values_list("pk", "email"))

    def vendor_names(a, b):
        names = set()
        for s, e, who in theirs:
            if s < b and e > a:
                for vendor_id in who:
                    pk = user_ids.get(str(vendor_id))
                    names.add(emails.get(pk) if pk else f"{vendor_id} (not imported)")
        return tuple(sorted(names))

    def our_names(a, b):
        return tuple(sorted(emails.get(s.user.pk, str(s.user.pk)) for s in ours if s.start < b and s.end > a))

    out = []
    for a, b in zip(cuts, cuts[1:], strict=False):
        if a >= b:
            continue
        mine, others = our_names(a, b), vendor_names(a, b)
        if mine == others:
            continue
        if out and out[-1].end == a and (out[-1].theirs, out[-1].ours) == (others, mine):
            out[-1].end = b
        else:
            out.append(Difference(a, b, others, mine, vendor))
    return out
