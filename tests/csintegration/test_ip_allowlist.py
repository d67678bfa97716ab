"""Per-client IP allowlists: socket peer or trusted-proxy address, IPv4 and IPv6, forged headers ignored."""

import ipaddress

import pytest
from django.test import RequestFactory

from csintegration.api.client_ip import address_allowed, client_address, parse_address

CUSTOMERS = "/api/v1/cs-integration/customers"

pytestmark = pytest.mark.django_db


def assert_ip_refused(response, shown: str) -> None:
    assert response.status_code == 403, response.content
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["type"].endswith("/ip-not-allowed") and body["status"] == 403
    assert shown in body["detail"]


def test_allowed_and_refused_ipv4(api):
    client = api(allowed_ips="203.0.113.0/24, 192.0.2.10")
    assert client.get(CUSTOMERS, REMOTE_ADDR="203.0.113.7").status_code == 200
    assert client.get(CUSTOMERS, REMOTE_ADDR="192.0.2.10").status_code == 200
    assert_ip_refused(client.get(CUSTOMERS, REMOTE_ADDR="192.0.2.11"), "192.0.2.11")
    assert_ip_refused(client.get(CUSTOMERS, REMOTE_ADDR="198.51.100.1"), "198.51.100.1")


def test_allowed_and_refused_ipv6_and_ipv4_mapped(api):
    client = api(allowed_ips="2001:db8:1::/48\n203.0.113.0/24")
    assert client.get(CUSTOMERS, REMOTE_ADDR="2001:db8:1::5").status_code == 200
    assert client.get(CUSTOMERS, REMOTE_ADDR="2001:DB8:1:0:0:0:0:9").status_code == 200
    assert_ip_refused(client.get(CUSTOMERS, REMOTE_ADDR="2001:db8:2::1"), "2001:db8:2::1")
    # A dual-stack socket reports IPv4 peers as IPv4-mapped IPv6 addresses.
    assert client.get(CUSTOMERS, REMOTE_ADDR="::ffff:203.0.113.9").status_code == 200
    assert_ip_refused(client.get(CUSTOMERS, REMOTE_ADDR="::ffff:198.51.100.1"), "::ffff:198.51.100.1")


def test_a_client_without_allowlist_is_admitted_from_anywhere(api):
    client = api()
    assert client.get(CUSTOMERS, REMOTE_ADDR="198.51.100.1").status_code == 200
    assert client.get(CUSTOMERS, REMOTE_ADDR="2001:db8::1").status_code == 200


def test_forged_forwarded_for_does_not_help_without_trusted_proxies(api):
    client = api(allowed_ips="203.0.113.0/24")
    forged = client.get(CUSTOMERS, REMOTE_ADDR="198.51.100.1", HTTP_X_FORWARDED_FOR="203.0.113.7")
    assert_ip_refused(forged, "198.51.100.1")
    # Nor does a Forwarded or X-Real-IP header.
    forged = client.get(
        CUSTOMERS, REMOTE_ADDR="198.51.100.1", HTTP_FORWARDED="for=203.0.113.7", HTTP_X_REAL_IP="203.0.113.7"
    )
    assert_ip_refused(forged, "198.51.100.1")


def test_behind_one_trusted_proxy_the_entry_it_appended_counts(api, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    client = api(allowed_ips="203.0.113.0/24")
    proxy = "10.0.0.1"
    assert client.get(CUSTOMERS, REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR="203.0.113.7").status_code == 200
    # The client wrote the first entry itself; the proxy appended the real peer.
    forged = client.get(CUSTOMERS, REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR="203.0.113.7, 198.51.100.1")
    assert_ip_refused(forged, "198.51.100.1")
    # A request that bypassed the proxy has no entry: the socket's peer is what counts.
    assert_ip_refused(client.get(CUSTOMERS, REMOTE_ADDR="198.51.100.2"), "198.51.100.2")
    assert client.get(CUSTOMERS, REMOTE_ADDR="203.0.113.8").status_code == 200


def test_behind_two_trusted_proxies_the_second_entry_from_the_right_counts(api, settings):
    settings.TRUSTED_PROXY_COUNT = 2
    client = api(allowed_ips="2001:db8::/32")
    admitted = client.get(
        CUSTOMERS, REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="198.51.100.1, 2001:db8::42, 10.0.0.2"
    )
    assert admitted.status_code == 200
    forged = client.get(
        CUSTOMERS, REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="2001:db8::42, 198.51.100.1, 10.0.0.2"
    )
    assert_ip_refused(forged, "198.51.100.1")
    # Fewer entries than trusted proxies: nothing in the header is vouched for.
    short = client.get(CUSTOMERS, REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="2001:db8::42")
    assert_ip_refused(short, "10.0.0.1")


def test_an_unparseable_address_is_refused(api, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    client = api(allowed_ips="203.0.113.0/24")
    assert_ip_refused(
        client.get(CUSTOMERS, REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="unknown"), "unknown"
    )


def test_client_address_and_parsing(settings):
    factory = RequestFactory()
    request = factory.get("/", REMOTE_ADDR="192.0.2.1", HTTP_X_FORWARDED_FOR="203.0.113.1, 198.51.100.7")
    settings.TRUSTED_PROXY_COUNT = 0
    assert client_address(request) == "192.0.2.1"
    settings.TRUSTED_PROXY_COUNT = 1
    assert client_address(request) == "198.51.100.7"
    settings.TRUSTED_PROXY_COUNT = 2
    assert client_address(request) == "203.0.113.1"
    settings.TRUSTED_PROXY_COUNT = 3
    assert client_address(request) == "192.0.2.1"

    assert parse_address("[2001:db8::1]:8443") == ipaddress.ip_address("2001:db8::1")
    assert parse_address("203.0.113.5:51000") == ipaddress.ip_address("203.0.113.5")
    assert parse_address("fe80::1%eth0") == ipaddress.ip_address("fe80::1")
    assert parse_address("not an ip") is None
    assert parse_address("") is None

    networks = [ipaddress.ip_network("203.0.113.0/24")]
    assert address_allowed(parse_address("::ffff:203.0.113.5"), networks)
    assert not address_allowed(parse_address("2001:db8::1"), networks)
    assert not address_allowed(None, networks)
    assert address_allowed(None, [])


def test_a_client_gets_no_token_from_outside_its_allowlist(make_integration_client):
    from django.test import Client

    credentials = make_integration_client(allowed_ips="203.0.113.0/24")
    form = {
        "grant_type": "client_credentials",
        "client_id": credentials.client.client_id,
        "client_secret": credentials.client_secret,
    }
    refused = Client(REMOTE_ADDR="198.51.100.7").post("/o/token/", form)
    assert refused.status_code == 403 and refused.json()["error"] == "access_denied"
    allowed = Client(REMOTE_ADDR="203.0.113.9").post("/o/token/", form)
    assert allowed.status_code == 200 and allowed.json()["access_token"]
