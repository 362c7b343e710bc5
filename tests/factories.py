"""factory_boy factories. `FACTORIES` maps each API resource's model to the factory that makes one
for a given tenant; the tenancy sweep (tests/test_tenancy_sweep.py) uses it for every route."""

import factory

from accounts import services as account_services
from accounts.models import ApiKey, Role, Team, Tenant, User


class TenantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tenant

    name = factory.Sequence(lambda n: f"Org {n}")
    slug = factory.Sequence(lambda n: f"org-{n}")
    timezone = "Europe/Berlin"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    tenant = factory.SubFactory(TenantFactory)
    email = factory.Sequence(lambda n: f"user{n}@example.com")
    name = factory.Sequence(lambda n: f"User {n}")
    role = Role.RESPONDER
    password = factory.PostGenerationMethodCall("set_password", "correct horse battery")

    @factory.post_generation
    def saved(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team

    tenant = factory.SubFactory(TenantFactory)
    name = factory.Sequence(lambda n: f"Team {n}")


def make_api_key(user, name="key"):
    key, secret = account_services.create_api_key(user, name=name)
    return key, secret


def api_key_for(tenant):
    user = UserFactory(tenant=tenant, role=Role.ADMIN)
    return make_api_key(user)[0]


# model -> callable(tenant) creating one object of that model in that tenant
FACTORIES = {
    User: lambda tenant: UserFactory(tenant=tenant),
    Team: lambda tenant: TeamFactory(tenant=tenant),
    ApiKey: api_key_for,
}


def register(model, make):
    """Apps add their resources here from tests/<app>/factories.py: register(Model, lambda tenant: ...)."""
    FACTORIES[model] = make


def _load_app_factories():
    from importlib import import_module
    from importlib.util import find_spec

    from ilert.urls import DOMAIN_APPS

    for app_name in DOMAIN_APPS:
        if app_name != "accounts" and find_spec(f"tests.{app_name}") and find_spec(f"tests.{app_name}.factories"):
            import_module(f"tests.{app_name}.factories")


_load_app_factories()
