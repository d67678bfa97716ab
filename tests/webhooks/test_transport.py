"""The address policy of outbound webhooks (IPv4 and IPv6) and the pinned, redirect-free transport."""

import ipaddress

import pytest

from webhooks import transport

REFUSED = {
    "127.0.0.1": "loopback",
    "127.8.9.10": "loopback",
    "10.0.0.1": "private",
    "172.16.5.4": "private",
    "192.168.1.1": "private",
    "169.254.169.254": "link-local",
    "100.64.0.1": "shared",
    "100.127.255.254": "shared",
    "0.0.0.0": "unspecified",
    "224.0.0.251": "multicast",
    "240.0.0.1": "reserved",
    "255.255.255.255": "reserved",
    "198.18.0.1": "private",
    "192.0.2.10": "private",
    "::1": "loopback",
    "::": "unspecified",
    "fe80::1": "link-local",
    "fd12:3456::1": "private",
    "ff02::1": "multicast",
    "::ffff:10.0.0.1": "private",
    "::ffff:169.254.169.254": "link-local",
    "64:ff9b::a00:1": "reserved",
    "2001:db8::1": "private",
}


@pytest.mark.parametrize(("address", "reason"), REFUSED.items())
def test_internal_addresses_are_refused(settings, address, reason):
    settings.WEBHOOK_ALLOWED_NETWORKS = []
    found = transport.forbidden_reason(ipaddress.ip_address(address))
    assert found is not None and reason in found, (address, found)


@pytest.mark.parametrize("address", ["93.184.215.14", "8.8.8.8", "2606:4700:4700::1111", "1.1.1.1"])
def test_public_addresses_are_admitted(settings, address):
    settings.WEBHOOK_ALLOWED_NETWORKS = []
    assert transport.forbidden_reason(ipaddress.ip_address(address)) is None


def test_allowed_networks_admit_exactly_what_they_list(settings):
    settings.WEBHOOK_ALLOWED_NETWORKS = ["10.20.0.0/16", "fd00:1::/32"]
    assert transport.forbidden_reason(ipaddress.ip_address("10.20.3.4")) is None
    assert transport.forbidden_reason(ipaddress.ip_address("fd00:1::5")) is None
    assert transport.forbidden_reason(ipaddress.ip_address("::ffff:10.20.3.4")) is None
    assert transport.forbidden_reason(ipaddress.ip_address("10.21.0.1")) == "private"
    assert transport.forbidden_reason(ipaddress.ip_address("127.0.0.1")) == "loopback"


def test_a_name_is_refused_if_any_of_its_addresses_is(settings, monkeypatch):
    settings.WEBHOOK_ALLOWED_NETWORKS = []
    mixed = [ipaddress.ip_address("93.184.215.14"), ipaddress.ip_address("10.0.0.7")]
    monkeypatch.setattr(transport, "resolve", lambda host, port: mixed)
    with pytest.raises(transport.UnsafeDestination, match=r"rebind\.example \(10\.0\.0\.7\) is a private"):
        transport.checked_address("rebind.example", 443)


def test_a_refused_destination_is_reported_not_raised(settings):
    settings.WEBHOOK_ALLOWED_NETWORKS = []
    result = transport.post("http://localhost:9/hooks", body=b"{}", headers={}, timeout=1)
    assert result.status_code is None and not result.succeeded
    assert result.error.startswith("Refused:") and "loopback" in result.error


def test_connection_errors_and_timeouts_are_reported(settings, httpserver):
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    closed = transport.post("http://127.0.0.1:9/hooks", body=b"{}", headers={}, timeout=1)
    assert closed.status_code is None and closed.error.startswith("Connection failed")

    import time

    httpserver.expect_request("/slow").respond_with_handler(lambda request: time.sleep(1.5) or "late")
    slow = transport.post(httpserver.url_for("/slow"), body=b"{}", headers={}, timeout=0.5)
    assert slow.status_code is None and "No response within 0.5 s" in slow.error


def test_the_excerpt_is_capped_at_one_kilobyte(settings, httpserver):
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    httpserver.expect_request("/big").respond_with_data("é" * 5000, status=500)
    result = transport.post(httpserver.url_for("/big"), body=b"{}", headers={}, timeout=2)
    assert result.status_code == 500 and len(result.response_excerpt.encode()) <= 1024 + 3
    assert result.response_excerpt.startswith("éé")


def test_the_session_is_pooled_per_process(settings):
    assert transport.session() is transport.session()
    assert transport.session().trust_env is False
