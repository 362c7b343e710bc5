"""Dashboard pages: sign-up, login, invitations, users, teams, API keys, settings, profile."""

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.utils.decorators import method_decorator
from django.views.decorators.http import require_POST

from ilert.dashboard import admin_only, can_write, panel_urls, tenant_object
from ilert.errors import DomainError

from . import selectors, services, throttle
from .forms import (
    ApiKeyForm,
    InviteForm,
    LoginForm,
    PasswordResetForm,
    ProfileForm,
    SetPasswordForm,
    SignupForm,
    TeamForm,
    TenantSettingsForm,
    UserEditForm,
)
from .models import ApiKey, Team, User, available_time_zones


def _form_error(form, exc):
    form.add_error(exc.field if exc.field in form.fields else None, exc.message)


def signup(request):
    if request.user.is_authenticated:
        return redirect("home")
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        wait = throttle.signup_wait(request)
        if wait:
            form.add_error(None, f"Too many new organisations from here. Try again in {wait // 60 + 1} minutes.")
            return throttle.too_many(request, wait, "accounts/signup.html", {"form": form})
        data = form.cleaned_data
        try:
            tenant, admin = services.create_tenant(
                data["organisation"], admin_email=data["email"], admin_name=data["name"],
                password=data["password"], timezone=data["timezone"],
            )
        except DomainError as exc:
            if exc.field == "name":
                exc.field = "organisation"
            _form_error(form, exc)
        else:
            login(request, admin, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(request, f"Welcome to ilert, {tenant.name} is ready.")
            return redirect("home")
    return render(request, "accounts/signup.html", {"form": form})


def _login_refused(request, wait):
    """The login page again, with the wait said where the user looks."""
    form = LoginForm(request, data=request.POST)
    form.errors.clear()
    form.add_error(None, f"Too many failed attempts. Try again in {wait} seconds.")
    return throttle.too_many(request, wait, "accounts/login.html", {"form": form})


@method_decorator(throttle.throttled_login(refuse=_login_refused), name="dispatch")
class LoginView(auth_views.LoginView):
    """Django's login, throttled (accounts.throttle)."""

    template_name = "accounts/login.html"
    authentication_form = LoginForm
    redirect_authenticated_user = True

    def form_valid(self, form):
        response = super().form_valid(form)
        # A first login brings the browser's zone (app.js fills browser_zone): times read right from
        # the first page on. A zone the user chose is never overwritten.
        user = form.get_user()
        zone = self.request.POST.get("browser_zone", "")
        if not user.timezone and zone in available_time_zones():
            services.update_user(user, by=user, timezone=zone)
        return response


class PasswordResetView(auth_views.PasswordResetView):
    """Django's password reset, limited per address typed and per client; the mail itself goes out
    from a task (accounts.forms.PasswordResetForm), so every address gets the same answer as fast."""

    template_name = "accounts/password_reset.html"
    form_class = PasswordResetForm

    def form_valid(self, form):
        wait = throttle.password_reset_wait(self.request, form.cleaned_data["email"].strip().lower())
        if wait:
            form.add_error(None, f"Too many requests for this address. Try again in {wait} seconds.")
            response = self.form_invalid(form)
            response.status_code = 429
            response["Retry-After"] = str(wait)
            return response
        form.save()
        return redirect(self.get_success_url())


def accept_invitation(request, token):
    user = services.user_for_invitation(token)
    if user is None:
        return render(request, "accounts/invitation_invalid.html", status=404)
    form = SetPasswordForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.accept_invitation(user, form.cleaned_data["password"])
        except DomainError as exc:
            form.add_error("password", exc.message)
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(request, f"Welcome to {user.tenant.name}.")
            return redirect("home")
    return render(request, "accounts/accept_invitation.html", {"form": form, "invitee": user})


@login_required
@admin_only
def users(request):
    form = InviteForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            invited = services.invite_user(request.tenant, invited_by=request.user, **form.cleaned_data)
        except DomainError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, f"Invitation sent to {invited.email}.")
            return redirect("accounts:users")
    return render(request, "accounts/users.html", {"users": selectors.users(request.tenant), "form": form})


@tenant_object(User)
@admin_only
def user_detail(request, obj):
    initial = {"name": obj.name, "role": obj.role, "timezone": obj.timezone}
    form = UserEditForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.update_user(obj, by=request.user, **form.cleaned_data)
        except DomainError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, f"{obj.display_name} updated.")
            return redirect("accounts:users")
    return render(request, "accounts/user_detail.html", {"member": obj, "form": form})


@require_POST
@tenant_object(User)
@admin_only
def user_deactivate(request, obj):
    try:
        services.deactivate_user(obj, by=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"{obj.display_name} can no longer log in.")
    return redirect("accounts:users")


@require_POST
@tenant_object(User)
@admin_only
def user_resend_invitation(request, obj):
    if obj.invitation_pending:
        try:
            services.resend_invitation(obj, by=request.user)
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, f"Invitation sent again to {obj.email}.")
    return redirect("accounts:users")


@login_required
def teams(request):
    form = TeamForm(request.POST or None, users=selectors.users(request.tenant, include_inactive=False))
    if request.method == "POST":
        if not request.user.is_admin:
            raise PermissionDenied("Your role does not allow this.")
        if form.is_valid():
            try:
                services.create_team(request.tenant, **form.cleaned_data)
            except DomainError as exc:
                _form_error(form, exc)
            else:
                messages.success(request, "Team created.")
                return redirect("accounts:teams")
    return render(request, "accounts/teams.html", {"teams": selectors.teams(request.tenant), "form": form})


@tenant_object(Team)
@admin_only
def team_detail(request, obj):
    initial = {"name": obj.name, "description": obj.description, "members": list(obj.members.all())}
    members = selectors.users(request.tenant, include_inactive=False)
    form = TeamForm(request.POST or None, initial=initial, users=members)
    if request.method == "POST":
        if "delete" in request.POST:
            services.delete_team(obj)
            messages.success(request, f"Team {obj.name} deleted.")
            return redirect("accounts:teams")
        if form.is_valid():
            try:
                services.update_team(obj, **form.cleaned_data)
            except DomainError as exc:
                _form_error(form, exc)
            else:
                messages.success(request, "Team saved.")
                return redirect("accounts:teams")
    return render(request, "accounts/team_detail.html", {"team": obj, "form": form})


@login_required
@can_write
def api_keys(request):
    form = ApiKeyForm(request.POST or None)
    new_secret = None
    if request.method == "POST" and form.is_valid():
        key, new_secret = services.create_api_key(request.user, name=form.cleaned_data["name"])
        form = ApiKeyForm()
    return render(request, "accounts/api_keys.html", {
        "keys": selectors.api_keys(request.user), "form": form, "new_secret": new_secret,
    })


@require_POST
@tenant_object(ApiKey)
@can_write
def api_key_revoke(request, obj):
    if obj.user_id != request.user.pk and not request.user.is_admin:
        return render(request, "404.html", status=404)
    services.revoke_api_key(obj)
    messages.success(request, f"API key {obj.name} revoked.")
    return redirect("accounts:api-keys")


@login_required
@admin_only
def tenant_settings(request):
    tenant = request.tenant
    form = TenantSettingsForm(request.POST or None, initial={"name": tenant.name, "timezone": tenant.timezone})
    if request.method == "POST" and form.is_valid():
        try:
            services.update_tenant(tenant, **form.cleaned_data)
        except DomainError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, "Settings saved.")
            return redirect("accounts:settings")
    return render(request, "accounts/settings.html", {"form": form})


# Other apps add their part of the profile page (a URL named like this) without accounts knowing them.
PROFILE_PANELS = ["schedules:profile-panel", "notifications:profile-panel", "status:profile-panel"]


@login_required
def profile(request):
    user = request.user
    form = ProfileForm(request.POST or None, initial={"name": user.name, "timezone": user.timezone})
    if request.method == "POST":  # any role: name and time zone are the reader's own preferences
        if form.is_valid():
            services.update_user(user, by=user, **form.cleaned_data)
            messages.success(request, "Profile saved.")
            return redirect("accounts:profile")
    return render(request, "accounts/profile.html", {"form": form, "panels": panel_urls(PROFILE_PANELS)})


class PasswordChangeView(auth_views.PasswordChangeView):
    """Django's password change; attempts at the current password are throttled like logins (a
    stolen session must not guess it)."""

    template_name = "accounts/password_change.html"

    def post(self, request, *args, **kwargs):
        wait = throttle.password_change_wait(request)
        if wait:
            form = self.get_form()
            form.errors.clear()
            form.add_error(None, f"Too many attempts. Try again in {wait} seconds.")
            return throttle.too_many(request, wait, self.template_name, self.get_context_data(form=form))
        return super().post(request, *args, **kwargs)

    def form_valid(self, form):
        response = super().form_valid(form)  # keeps this session logged in
        messages.success(self.request, "Password changed.")
        return response
