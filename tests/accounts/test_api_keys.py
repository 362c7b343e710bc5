import logging

import pytest
from rest_framework.test import APIClient

from accounts.models import ApiKey
from tests.conftest import client_for


def bearer(secret):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


def test_a_key_is_shown_once_and_stored_hashed(api, admin):
    created = api.post("/api/v1/api-keys", {"name": "terraform"}, format="json")
    assert created.status_code == 201
    secret = created.json()["secret"]
    assert secret.startswith("ilk_")

    key = ApiKey.objects.get(pk=created.json()["id"])
    assert secret not in key.secret_hash and key.prefix in secret

    listed = api.get("/api/v1/api-keys").content.decode()
    detail = api.get(f"/api/v1/api-keys/{key.pk}").content.decode()
    assert secret not in listed and secret not in detail
    assert "secret" not in api.get(f"/api/v1/api-keys/{key.pk}").json()

    me = bearer(secret).get("/api/v1/me")
    assert me.status_code == 200 and me.json()["email"] == admin.email


def test_last_use_is_recorded(api):
    secret = api.post("/api/v1/api-keys", {"name": "ci"}, format="json").json()["secret"]
    key = ApiKey.objects.get(name="ci")
    assert key.last_used_at is None
    bearer(secret).get("/api/v1/users")
    key.refresh_from_db()
    assert key.last_used_at is not None


@pytest.mark.parametrize("header", [
    "Bearer ilk_000000000000_wrongwrongwrongwrongwrongwrongwrongwrong12",
    "Bearer not-a-key",
    "Bearer ",
    "Bearer two parts",
    "Bearer ilk_",
])
def test_wrong_or_malformed_keys_get_401_with_a_json_error(db, header):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    response = client.get("/api/v1/users")
    assert response.status_code == 401
    body = response.json()
    assert body["code"] in ("authentication_failed", "not_authenticated")
    assert body["message"]


def test_no_credentials_get_401(db):
    response = APIClient().get("/api/v1/users")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Bearer"


def test_a_revoked_key_stops_working(api):
    created = api.post("/api/v1/api-keys", {"name": "old"}, format="json").json()
    assert bearer(created["secret"]).get("/api/v1/me").status_code == 200
    assert api.delete(f"/api/v1/api-keys/{created['id']}").status_code == 204
    response = bearer(created["secret"]).get("/api/v1/me")
    assert response.status_code == 401
    assert ApiKey.objects.get(pk=created["id"]).revoked_at is not None


def test_a_deactivated_users_keys_stop_working(api, responder):
    client = client_for(responder)
    assert client.get("/api/v1/me").status_code == 200
    assert api.delete(f"/api/v1/users/{responder.pk}").status_code == 204
    assert client.get("/api/v1/me").status_code == 401


def test_the_secret_never_reaches_the_logs(api, caplog):
    caplog.set_level(logging.DEBUG)
    secret = api.post("/api/v1/api-keys", {"name": "logged?"}, format="json").json()["secret"]
    bearer(secret).get("/api/v1/users")
    bearer(secret + "x").get("/api/v1/users")
    assert caplog.records, "the requests should have logged something to check"
    assert all(secret not in record.getMessage() for record in caplog.records)


def test_responders_see_only_their_own_keys_admins_see_all(api, responder_api, admin, responder):
    responder_api.post("/api/v1/api-keys", {"name": "mine"}, format="json")
    names_for_responder = {k["name"] for k in responder_api.get("/api/v1/api-keys").json()["results"]}
    names_for_admin = {k["name"] for k in api.get("/api/v1/api-keys").json()["results"]}
    assert "mine" in names_for_responder and "mine" in names_for_admin
    assert all(k["user"] == responder.pk for k in responder_api.get("/api/v1/api-keys").json()["results"])


def test_a_key_needs_a_name(api):
    response = api.post("/api/v1/api-keys", {"name": ""}, format="json")
    assert response.status_code == 400
    assert response.json()["fields"]["name"]
