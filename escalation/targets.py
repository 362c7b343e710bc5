"""Who a level reaches at an instant: its users, its teams' members, and whoever is on call in its
schedules (schedules.selectors.on_call_many). Inactive users are never targets. Order is stable
(users, then teams, then schedules, each in the order given) and nobody appears twice."""

from schedules.selectors import on_call_many


def reach(level, at):
    """([(user, why)], [names of the level's schedules with nobody on call]) at instant `at`."""
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
    schedules = list(level.schedules.all())
    on_call = on_call_many(schedules, at) if schedules else {}
    empty = []
    for schedule in schedules:
        segment = on_call.get(schedule.pk)
        if segment is None:
            empty.append(schedule.name)
        else:
            add(segment.user, f"on call in {schedule.name}")
    return found, empty
