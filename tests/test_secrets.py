"""Secrets at rest: encrypted with ENCRYPTION_KEYS, rotatable without losing any."""

import pytest
from cryptography.fernet import Fernet
from django.core.management import CommandError, call_command

from ilert import secrets
from tests.alerts.factories import make_source


@pytest.fixture(autouse=True)
def fresh_keys():
    secrets.reset_cache()
    yield
    secrets.reset_cache()


def test_rotation_moves_every_secret_to_the_new_key(tenant, settings):
    source = make_source(tenant)  # stored with the key derived from SECRET_KEY (no ENCRYPTION_KEYS yet)
    key = source.integration_key
    new = Fernet.generate_key().decode()
    settings.ENCRYPTION_KEYS = [new]
    secrets.reset_cache()
    source.refresh_from_db()
    assert source.integration_key == key  # still readable: the derived key decrypts old values
    call_command("rotate_secrets")
    source.refresh_from_db()
    assert Fernet(new.encode()).decrypt(source.key_encrypted.encode()).decode() == key


def test_rotation_refuses_loudly_when_an_old_key_is_missing(tenant, settings):
    first = Fernet.generate_key().decode()
    settings.ENCRYPTION_KEYS = [first]
    secrets.reset_cache()
    make_source(tenant)
    settings.ENCRYPTION_KEYS = [Fernet.generate_key().decode()]  # the old key dropped too early
    secrets.reset_cache()
    with pytest.raises(CommandError, match="cannot be decrypted"):
        call_command("rotate_secrets")
