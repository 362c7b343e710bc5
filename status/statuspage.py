"""The Atlassian Statuspage public API (v2) shapes, so widgets and monitoring tools that read
Statuspage pages read ours unchanged: page, status (indicator none/minor/major/critical/maintenance),
components (groups are components with `group: true` and their `components` ids), incidents and
scheduled maintenances with their `incident_updates`. Ids are the objects' 12-character codes;
times are ISO 8601 in the page's time zone, as Statuspage gives them."""

import zoneinfo

from .access import page_url
from .models import SEVERITY, ServiceStatus, StatusIncident

DESCRIPTIONS = {
    "none": "All Systems Operational",
    "minor": "Minor Service Outage",
    "major": "Partial System Outage",
    "critical": "Major System Outage",
    "maintenance": "Service Under Maintenance",
}
FROM_STATUS = {
    ServiceStatus.OPERATIONAL: "none",
    ServiceStatus.UNDER_MAINTENANCE: "maintenance",
    ServiceStatus.DEGRADED: "minor",
    ServiceStatus.PARTIAL: "major",
    ServiceStatus.MAJOR: "critical",
}
RANK = {"none": 0, "maintenance": 1, "minor": 2, "major": 3, "critical": 4}


class Shapes:
    def __init__(self, page, services):
        self.page, self.services = page, services
        try:
            self.zone = zoneinfo.ZoneInfo(page.time_zone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            self.zone = zoneinfo.ZoneInfo("UTC")
        self.url = page_url(page)

    def time(self, value):
        return value.astimezone(self.zone).isoformat(timespec="milliseconds") if value else None

    def page_shape(self, updated_at):
        return {"id": self.page.code, "name": self.page.name, "url": self.url, "time_zone": self.page.time_zone,
                "updated_at": self.time(updated_at)}

    def indicator(self, open_incidents):
        levels = [FROM_STATUS[s.status] for s in self.services]
        levels += [i.impact for i in open_incidents if i.kind == StatusIncident.Kind.INCIDENT and i.impact in RANK]
        return max(levels, key=RANK.__getitem__, default="none")

    def status(self, open_incidents):
        indicator = self.indicator(open_incidents)
        return {"indicator": indicator, "description": DESCRIPTIONS[indicator]}

    def components(self):
        out, groups = [], {}
        for position, service in enumerate(self.services, start=1):
            group = service.group
            if group is not None and group.pk not in groups:
                groups[group.pk] = {
                    "id": group.code, "name": group.name, "status": ServiceStatus.OPERATIONAL,
                    "created_at": self.time(group.created_at), "updated_at": self.time(group.created_at),
                    "position": len(groups) + 1, "description": group.description or None, "showcase": False,
                    "start_date": None, "group_id": None, "page_id": self.page.code, "group": True,
                    "only_show_if_degraded": False, "components": [],
                }
            out.append({
                "id": service.code, "name": service.name, "status": service.status,
                "created_at": self.time(service.created_at), "updated_at": self.time(service.updated_at),
                "position": position, "description": service.description or None, "showcase": True,
                "start_date": service.created_at.astimezone(self.zone).date().isoformat(),
                "group_id": group.code if group else None, "page_id": self.page.code, "group": False,
                "only_show_if_degraded": False,
            })
            if group is not None:
                shape = groups[group.pk]
                shape["components"].append(service.code)
                if SEVERITY[service.status] > SEVERITY[shape["status"]]:
                    shape["status"] = service.status
                if service.updated_at.astimezone(self.zone).isoformat(timespec="milliseconds") > shape["updated_at"]:
                    shape["updated_at"] = self.time(service.updated_at)
        return out + list(groups.values())

    def component_of(self, service):
        return {"id": service.code, "name": service.name, "status": service.status,
                "created_at": self.time(service.created_at), "updated_at": self.time(service.updated_at),
                "position": 0, "description": service.description or None, "showcase": True,
                "start_date": service.created_at.astimezone(self.zone).date().isoformat(),
                "group_id": service.group.code if service.group_id else None, "page_id": self.page.code,
                "group": False, "only_show_if_degraded": False}

    def incident(self, incident):
        updates = list(incident.updates.all())
        shape = {
            "id": incident.code, "name": incident.title, "status": incident.status,
            "created_at": self.time(incident.created_at), "updated_at": self.time(incident.updated_at),
            "monitoring_at": self.time(incident.monitoring_at), "resolved_at": self.time(incident.resolved_at),
            "impact": incident.impact, "shortlink": f"{self.url}#incident-{incident.code}",
            "started_at": self.time(incident.created_at), "page_id": self.page.code,
            "incident_updates": [self.update(incident, u) for u in updates],
            "components": [self.component_of(a.service) for a in incident.affected.all()],
        }
        if incident.kind == StatusIncident.Kind.MAINTENANCE:
            shape["scheduled_for"] = self.time(incident.scheduled_for)
            shape["scheduled_until"] = self.time(incident.scheduled_until)
        return shape

    def update(self, incident, update):
        return {
            "id": update.code, "status": update.status, "body": update.message, "incident_id": incident.code,
            "created_at": self.time(update.at), "updated_at": self.time(update.at), "display_at": self.time(update.at),
            "affected_components": update.affected_components or None, "deliver_notifications": True,
            "custom_tweet": None, "tweet_id": None,
        }
