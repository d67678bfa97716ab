"""The shared token cache keeps bearer checks exact: revocation, client changes and expiry take effect at
once in every process (the cache is only used when it is shared, i.e. on Redis)."""

import pytest
from django.test import Client

from csintegration.auth import token_cache
from csintegration.clients.models import IntegrationClient

CUSTOMERS = "/api/v1/cs-integration/customers"
pytestmark = [pytest.mark.django_db, pytest.mark.services]


@pytest.fixture(autouse=True)
def fresh_process_copies():
    token_cache._client_copies.clear()
    yield
    token_cache._client_copies.clear()


def test_a_cached_token_is_refused_once_revoked(api):
    assert token_cache.enabled()
    client = api(scopes="customers:read")
    assert client.get(CUSTOMERS).status_code == 200  # loads the cache
    assert client.get(CUSTOMERS).status_code == 200  # served from it
    token = client._credentials["HTTP_AUTHORIZATION"].split()[1]
    issued = client.integration
    form = {"token": token, "client_id": issued.client.client_id, "client_secret": issued.client_secret}
    revoked = Client().post("/o/revoke_token/", form)
    assert revoked.status_code == 200
    assert client.get(CUSTOMERS).status_code == 401


def test_client_changes_apply_at_once_to_cached_tokens(api):
    client = api(scopes="customers:read")
    assert client.get(CUSTOMERS).status_code == 200
    assert client.get(CUSTOMERS).status_code == 200
    integration = IntegrationClient.objects.get(pk=client.integration.client.pk)
    integration.allowed_ips = "203.0.113.0/24"
    integration.save()
    assert client.get(CUSTOMERS).status_code == 403  # the new allowlist, though the token is cached
    integration.allowed_ips = ""
    integration.is_active = False
    integration.save()
    assert client.get(CUSTOMERS).status_code == 401


def test_a_token_of_another_client_is_not_taken_from_the_cache(api):
    client = api(scopes="customers:read")
    assert client.get(CUSTOMERS).status_code == 200
    token = client._credentials["HTTP_AUTHORIZATION"].split()[1]
    other = api(scopes="customers:read").integration.client.client_id
    assert token_cache.access_token_for(token, other) is None
    assert token_cache.access_token_for(token, client.integration.client.client_id) is not None
