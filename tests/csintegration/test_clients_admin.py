"""OAuth clients in the back-office: created with scopes, IPs and quotas; secrets shown once and working."""

import re

import pytest
from django.contrib.messages import get_messages

from csintegration.clients.models import IntegrationClient
from tests.conftest import fetch_token

pytestmark = pytest.mark.django_db
ADD = "/admin/clients/integrationclient/add/"


def test_a_client_created_in_the_admin_shows_working_secrets_once(staff_client):
    response = staff_client.post(
        ADD,
        {
            "name": "Billing sync",
            "description": "",
            "is_active": "on",
            "authorization_grant_type": "client-credentials",
            "client_type": "confidential",
            "redirect_uris": "",
            "post_logout_redirect_uris": "",
            "scopes": "customers:read finance:write",
            "allowed_ips": "",
            "rate_limits": '{"standard": "5000/hour"}',
            "user": "",
        },
    )
    assert response.status_code == 302, response.content[:2000]
    client = IntegrationClient.objects.get(name="Billing sync")
    assert client.scope_list == ["customers:read", "finance:write"]
    assert client.quota_for("standard") == "5000/hour"

    shown = " ".join(str(message) for message in get_messages(response.wsgi_request))
    client_secret = re.search(r"client_secret <code>([^<]+)</code>", shown).group(1)
    signing_secret = re.search(r"signing_secret <code>([^<]+)</code>", shown).group(1)
    assert client.signing_secret == signing_secret
    assert client_secret not in client.client_secret  # stored hashed

    class Issued:  # what fetch_token needs
        pass

    issued = Issued()
    issued.client, issued.client_secret = client, client_secret
    token = fetch_token(issued)
    assert token["scope"].split() == ["customers:read", "finance:write"]

    change_page = f"/admin/clients/integrationclient/{client.pk}/change/"
    first = staff_client.get(change_page)  # the page after saving shows the message, once
    assert client_secret.encode() in first.content
    again = staff_client.get(change_page)
    assert again.status_code == 200 and client_secret.encode() not in again.content
    assert signing_secret.encode() not in again.content


def test_unknown_scopes_and_bad_quotas_are_refused(staff_client):
    response = staff_client.post(
        ADD,
        {
            "name": "Broken",
            "authorization_grant_type": "client-credentials",
            "client_type": "confidential",
            "scopes": "customers:read everything:write",
            "rate_limits": '{"standard": "lots"}',
        },
    )
    assert response.status_code == 200
    assert b"Unknown scope" in response.content and b"not N/second" in response.content
    assert not IntegrationClient.objects.filter(name="Broken").exists()
