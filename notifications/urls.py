from django.urls import path

from . import views, webhooks

app_name = "notifications"

urlpatterns = [
    # dashboard
    path("notifications/panels/profile", views.profile_panel, name="profile-panel"),
    path("notifications/panels/home", views.home_panel, name="home-panel"),
    path("notifications/panels/incident/<int:pk>", views.incident_panel, name="incident-panel"),
    path("notifications/users/<int:pk>/", views.user_settings, name="user-settings"),
    path("notifications/users/<int:pk>/contact-methods", views.add_contact_method, name="add-contact-method"),
    path("notifications/users/<int:pk>/rules", views.add_rule, name="add-rule"),
    path("notifications/users/<int:pk>/preferences", views.save_preferences, name="preferences"),
    path("notifications/contact-methods/<int:pk>/verify", views.verify_contact_method, name="verify-contact-method"),
    path("notifications/contact-methods/<int:pk>/send-code", views.send_code, name="send-code"),
    path("notifications/contact-methods/<int:pk>/edit", views.edit_contact_method, name="edit-contact-method"),
    path("notifications/contact-methods/<int:pk>/delete", views.delete_contact_method, name="delete-contact-method"),
    path("notifications/rules/<int:pk>/delete", views.delete_rule, name="delete-rule"),
    path("notifications/webpush/subscriptions", views.webpush_subscribe, name="webpush-subscribe"),
    path("notifications/webpush/renew", views.webpush_renew, name="webpush-renew"),
    path("notifications/notices/<int:pk>/dismiss", views.dismiss_notice, name="dismiss-notice"),
    path("notifications/caller-ids/", views.caller_ids, name="caller-ids"),
    path("notifications/caller-ids.vcf", views.caller_ids_vcard, name="caller-ids-vcard"),
    path("notifications/providers/", views.provider_settings, name="providers"),
    path("notifications/dev-outbox/<int:pk>/reply", views.dev_reply, name="dev-reply"),
    # links people open from messages
    path("notifications/email/<str:token>", views.email_action, name="email-action"),
    path("notifications/verify-email/<str:token>", views.verify_email, name="verify-email"),
    # provider webhooks
    path("notifications/twilio/sms", webhooks.twilio_sms, name="twilio-sms"),
    path("notifications/twilio/status/<str:token>", webhooks.twilio_status, name="twilio-status"),
    path("notifications/twilio/voice/<str:token>", webhooks.twilio_voice, name="twilio-voice"),
    path("notifications/twilio/voice/<str:token>/gather", webhooks.twilio_gather, name="twilio-gather"),
    path("notifications/push/action", webhooks.push_action, name="push-action"),
]
