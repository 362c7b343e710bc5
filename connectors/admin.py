from django.contrib import admin

from .models import Connection, ConnectionInvocation, Connector, SlackIdentity


@admin.register(Connector)
class ConnectorAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "tenant", "enabled", "created_at"]
    list_filter = ["kind", "enabled"]
    exclude = ["credentials_encrypted"]  # never shown, not even to operators


@admin.register(Connection)
class ConnectionAdmin(admin.ModelAdmin):
    list_display = ["id", "connector", "alert_source", "trigger_mode", "enabled"]


@admin.register(ConnectionInvocation)
class ConnectionInvocationAdmin(admin.ModelAdmin):
    list_display = ["id", "connection", "incident", "event", "status", "attempts", "created_at"]
    list_filter = ["status", "event"]
    readonly_fields = [f.name for f in ConnectionInvocation._meta.fields]


@admin.register(SlackIdentity)
class SlackIdentityAdmin(admin.ModelAdmin):
    list_display = ["slack_user_id", "user", "tenant"]
