"""OAuth clients in the back-office: created with scopes, IPs and quotas; secrets shown once and working."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.contrib.messages import get_messages
from django.test import Client

from csintegration.adminsite.totp import totp_current_code, totp_device_enroll
from csintegration.clients.models import IntegrationClient
from tests.conftest import fetch_token

pytestmark = pytest.mark.django_db
ADD = "/admin/clients/integrationclient/add/"


@pytest.fixture
def operator_client():
    get_user_model().objects.create_superuser("operator", "operator@example.com", "correct-Horse-battery-9")
    totp_device_enroll(username="operator")
    client = Client()
    signed_in = client.post(
        "/admin/login/?next=/admin/",
        {
            "username": "operator",
            "password": "correct-Horse-battery-9",
            "otp_token": totp_current_code(username="operator"),
            "next": "/admin/",
        },
    )
    assert signed_in.status_code == 302
    return client


def test_a_client_created_in_the_admin_shows_working_secrets_once(operator_client):
    response = operator_client.post(
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
    first = operator_client.get(change_page)  # the page after saving shows the message, once
    assert client_secret.encode() in first.content
    again = operator_client.get(change_page)
    assert again.status_code == 200 and client_secret.encode() not in again.content
    assert signing_secret.encode() not in again.content


def test_unknown_scopes_and_bad_quotas_are_refused(operator_client):
    response = operator_client.post(
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
