"""Who a level reaches at an instant: its users, its teams' members, and whoever is on call in its
schedules (schedules.selectors.on_call). Inactive users are never targets. Order is stable (users,
then teams, then schedules, each in the order given) and nobody appears twice."""

from schedules.selectors import on_call


def resolve(level, at):
    """[(user, why)] for `level` at instant `at`; `why` says how the user was reached."""
    found, seen = [], set()

    def add(user, why):
        if user is not None and user.is_active and user.pk not in seen:
            seen.add(user.pk)
            found.append((user, why))

    for user in level.users.all():
        add(user, "named on the level")
    for team in level.teams.all():
        for user in team.members.all():
            add(user, f"member of team {team.name}")
    for schedule in level.schedules.all():
        add(on_call(schedule, at), f"on call in {schedule.name}")
    return found


def empty_schedules(level, at):
    """Names of the level's schedules with nobody on call at `at` (for the timeline)."""
    return [s.name for s in level.schedules.all() if on_call(s, at) is None]
