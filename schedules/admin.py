from django.contrib import admin

from .models import CalendarFeed, Layer, LayerMember, Override, Schedule, Shift


class LayerMemberInline(admin.TabularInline):
    model = LayerMember
    extra = 0


@admin.register(Schedule)
class ScheduleAdmin(admin.ModelAdmin):
    list_display = ["name", "tenant", "kind", "timezone", "team"]
    list_filter = ["kind", "tenant"]
    search_fields = ["name"]


@admin.register(Layer)
class LayerAdmin(admin.ModelAdmin):
    list_display = ["name", "schedule", "position", "start_date", "handoff_time", "length_count", "length_unit"]
    inlines = [LayerMemberInline]


@admin.register(Override)
class OverrideAdmin(admin.ModelAdmin):
    list_display = ["schedule", "user", "start", "end", "created_by"]


@admin.register(Shift)
class ShiftAdmin(admin.ModelAdmin):
    list_display = ["schedule", "user", "start", "end"]


@admin.register(CalendarFeed)
class CalendarFeedAdmin(admin.ModelAdmin):
    list_display = ["schedule", "user", "created_at"]
    readonly_fields = ["token"]
