from django.contrib.auth import views as auth_views
from django.urls import include, path, reverse_lazy

from ilert.dashboard import token_addressed

from . import views

dashboard = [
    path("users/", views.users, name="users"),
    path("users/<int:pk>/", views.user_detail, name="user"),
    path("users/<int:pk>/deactivate", views.user_deactivate, name="user-deactivate"),
    path("users/<int:pk>/resend-invitation", views.user_resend_invitation, name="user-resend-invitation"),
    path("teams/", views.teams, name="teams"),
    path("teams/<int:pk>/", views.team_detail, name="team"),
    path("api-keys/", views.api_keys, name="api-keys"),
    path("api-keys/<int:pk>/revoke", views.api_key_revoke, name="api-key-revoke"),
    path("settings/", views.tenant_settings, name="settings"),
    path("profile/", views.profile, name="profile"),
    path("profile/password/", views.PasswordChangeView.as_view(success_url=reverse_lazy("accounts:profile")),
         name="password-change"),
]

urlpatterns = [
    path("signup/", views.signup, name="signup"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("invitation/<str:token>/", token_addressed(views.accept_invitation), name="accept-invitation"),
    path("password/reset/", views.PasswordResetView.as_view(), name="password_reset"),
    path("password/reset/sent/", auth_views.PasswordResetDoneView.as_view(
        template_name="accounts/password_reset_done.html"), name="password_reset_done"),
    path("password/reset/<uidb64>/<token>/", token_addressed(auth_views.PasswordResetConfirmView.as_view(
        template_name="accounts/password_reset_confirm.html")), name="password_reset_confirm"),
    path("password/reset/done/", auth_views.PasswordResetCompleteView.as_view(
        template_name="accounts/password_reset_complete.html"), name="password_reset_complete"),
    path("", include((dashboard, "accounts"))),
]
