"""Every state change of services, pages, status incidents, maintenance and subscribers, one
module per concern; the names below are the app's door (`from status import services`).

Roles are checked here too (docs/permissions.md): admins manage services, links and pages;
responders (and admins) post status incidents, updates and maintenance; stakeholders only subscribe
themselves. `by=None` is the system (automation, the maintenance engine).

- components: services, groups, links to alert sources and monitors
- holds: what automation, incidents and maintenance do to a service's status; page ETags
- pages: status pages and their access links
- incidents: status incidents and their updates
- maintenance: scheduled maintenance and its reminders
- windows: the alert-source maintenance windows a maintenance opens
- domains: proving a page's custom domain by a DNS TXT record
- subscribers: email, webhook and member subscribers
"""

from .components import (
    create_group,
    create_service,
    delete_group,
    delete_service,
    link_monitor,
    link_source,
    move_group,
    set_status,
    unlink,
    update_group,
    update_service,
)
from .domains import check_domain
from .holds import hold, release, touch_pages
from .incidents import DEFAULT_TEMPLATE, create_incident, delete_incident, from_alert_incident, post_update
from .maintenance import complete_maintenance, schedule_maintenance, start_maintenance
from .pages import create_page, delete_page, end_access_grants, new_access_link, update_page
from .subscribers import confirm_subscriber, subscribe_email, subscribe_member, subscribe_webhook, unsubscribe

__all__ = [
    "DEFAULT_TEMPLATE", "check_domain", "complete_maintenance", "confirm_subscriber", "create_group",
    "create_incident", "create_page", "create_service", "delete_group", "delete_incident", "delete_page",
    "delete_service", "end_access_grants", "from_alert_incident", "hold", "link_monitor", "link_source", "move_group",
    "new_access_link", "post_update", "release", "schedule_maintenance", "set_status", "start_maintenance",
    "subscribe_email", "subscribe_member", "subscribe_webhook", "touch_pages", "unlink", "unsubscribe",
    "update_group", "update_page", "update_service",
]
