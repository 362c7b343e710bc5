"""Reply codes: the short number an SMS page asks to answer with ("Reply 3a"), one per (user,
incident), the smallest not taken by the user's other open incidents."""

from django.db import connection

from accounts.models import User
from alerts.models import Incident

from ..models import Notification, ReplyCodeFloor, ReplyCodeRelease

REPLY_CODE_LOCK = 0x7265706C  # the advisory-lock namespace of reply codes ("repl"); the user id is the key


def assign(pairs):
    """{(user id, incident id): code} — a short number per (user, incident): 'Reply 3a'. Reused for
    the same incident; otherwise the smallest number not taken by the user's other open incidents.

    Transactions paging the same user take turns, from this search to their commit (a transaction
    advisory lock per user on PostgreSQL, taken in user order; SQLite has one writer at a time):
    otherwise concurrent batches of a storm, each blind to the other's uncommitted codes, hand out
    the same numbers (seen: 3,000 distinct codes for 10,000 open incidents).

    The search starts at the user's ReplyCodeFloor, or lower at a code released since, and the
    database returns only the gaps between the codes taken above that: a storm that pages one user
    thousands of times reads none of them. Where the search starts only decides how small the codes
    are; it never makes two open incidents share one."""
    _take_turns({u for u, _ in pairs})
    codes = _codes_held(pairs)
    wanted = {}
    for pair in sorted(pairs):
        if pair not in codes:
            wanted.setdefault(pair[0], []).append(pair)
    if not wanted:
        return codes
    floors = dict(ReplyCodeFloor.objects.filter(user_id__in=wanted).values_list("user_id", "lowest"))
    lowest = {user_id: floors.get(user_id, 1) for user_id in wanted}
    released = list(ReplyCodeRelease.objects.filter(user_id__in=wanted).values_list("pk", "user_id", "code"))
    for _, user_id, code in released:
        lowest[user_id] = min(lowest[user_id], code)
    gaps = _gaps(lowest)
    raised = {}
    for user_id, mine in wanted.items():
        free = _free(gaps[user_id])
        for pair in mine:
            codes[pair] = next(free)
        raised[user_id] = next(free)  # every code below it is taken now
    _store_floors(raised, floors)
    ReplyCodeRelease.objects.filter(pk__in=[pk for pk, _, _ in released]).delete()
    return codes


def _take_turns(user_ids):
    """The reply-code lock of these users, until commit (in user order: no two transactions wait on
    each other in a circle)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            for user_id in sorted(user_ids):
                cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [REPLY_CODE_LOCK, user_id])


def _codes_held(pairs):
    """The codes the pairs already have (a user paged again for the same incident keeps its code).
    Looked up by incident only: the (incident, user) index, whatever the planner thinks of a busy user."""
    return {
        (u, i): code for u, i, code in Notification.objects.filter(
            incident_id__in={i for _, i in pairs}, reply_code__isnull=False,
        ).order_by().values_list("user_id", "incident_id", "reply_code")
        if (u, i) in pairs
    }


def _gaps(lowest):
    """{user id: [(last taken, next taken or None)]}, in order, for the codes of the user's open
    incidents from lowest[user] on (lowest - 1 counts as taken). One range scan of the
    (user, reply_code) index per user, its bounds written in: a join with a list of floors let the
    planner read the user's whole range."""
    table, incidents = Notification._meta.db_table, Incident._meta.db_table
    statuses = ", ".join(["%s"] * len(Incident.OPEN))
    # Identifiers come from the models; every value is a parameter.
    per_user = f"""
        SELECT n.user_id AS user_id, n.reply_code AS taken FROM {table} n JOIN {incidents} i ON i.id = n.incident_id
         WHERE n.user_id = %s AND n.reply_code IS NOT NULL AND n.reply_code >= %s AND i.status IN ({statuses})
        UNION ALL SELECT %s, %s"""  # noqa: S608
    sql = f"""
        SELECT user_id, taken, after FROM (
            SELECT user_id, taken, LEAD(taken) OVER (PARTITION BY user_id ORDER BY taken) AS after
              FROM ({" UNION ALL ".join([per_user] * len(lowest))}) AS taken
        ) runs WHERE after IS NULL OR after > taken + 1 ORDER BY user_id, taken"""  # noqa: S608
    params = []
    for user_id, start in lowest.items():
        params += [user_id, start, *Incident.OPEN, user_id, start - 1]
    gaps = {}
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for user_id, taken, after in cursor.fetchall():
            gaps.setdefault(user_id, []).append((taken, after))
    return gaps


def _store_floors(raised, floors):
    """Where each user's next search starts (under their reply-code lock: nobody else writes it)."""
    tenants = dict(User.objects.filter(pk__in=[u for u in raised if u not in floors]).values_list("pk", "tenant_id"))
    ReplyCodeFloor.objects.bulk_create([ReplyCodeFloor(user_id=user_id, tenant_id=tenant_id, lowest=raised[user_id])
                                        for user_id, tenant_id in tenants.items()])
    for user_id in floors:
        ReplyCodeFloor.objects.filter(user_id=user_id).update(lowest=raised[user_id])


def release_reply_codes(incident):
    """An incident that closed frees its codes: each holder's next search starts no higher. Only
    inserts (it never waits for a search in progress, which holds the floor until it commits)."""
    held = (Notification.objects.filter(incident=incident, reply_code__isnull=False).order_by()
            .values_list("user_id", "reply_code").distinct())
    ReplyCodeRelease.objects.bulk_create([ReplyCodeRelease(tenant_id=incident.tenant_id, user_id=user_id, code=code)
                                          for user_id, code in held])


def _free(gaps):
    """The free numbers, smallest first, from [(last taken, next taken or None)]."""
    for taken, after in gaps:
        code = taken + 1
        while after is None or code < after:
            yield code
            code += 1


