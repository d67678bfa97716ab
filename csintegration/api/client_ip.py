"""The caller's address, and the per-client IP allowlist (``IntegrationClient.allowed_ips``).

The address is the socket's peer (``REMOTE_ADDR``). Behind ``TRUSTED_PROXY_COUNT`` = N proxies it is the
N-th ``X-Forwarded-For`` entry from the right: the one the outermost trusted proxy appended for the peer it
saw. Entries further left were written by whoever sent the request and are never believed.
"""

import ipaddress

from django.conf import settings
from rest_framework import permissions

from .exceptions import Problem

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def _forwarded_entries(meta) -> list[str]:
    # Several X-Forwarded-For lines arrive joined with ", " in one WSGI variable.
    header = meta.get("HTTP_X_FORWARDED_FOR", "")
    return [entry.strip() for entry in header.split(",")] if header else []


def client_address(request) -> str:
    """The client's address as a string (IP, unchecked); ``""`` if none is known."""
    meta = request.META
    peer = meta.get("REMOTE_ADDR", "") or ""
    trusted = settings.TRUSTED_PROXY_COUNT
    if trusted <= 0:
        return peer
    entries = _forwarded_entries(meta)
    if len(entries) < trusted:
        # Fewer entries than trusted hops: the request did not come through all the proxies, so
        # nothing in the header is vouched for; the socket's peer is the only fact.
        return peer
    return entries[-trusted]


def parse_address(value: str) -> IPAddress | None:
    """An IP from a header or socket value, also as ``[v6]:port``, ``v4:port`` or with a zone id."""
    text = value.strip().strip('"')
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    text = text.partition("%")[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def address_allowed(address: IPAddress | None, networks) -> bool:
    """Whether ``address`` is in one of ``networks``; an IPv4-mapped IPv6 address also matches as IPv4."""
    if not networks:
        return True
    if address is None:
        return False
    candidates = [address]
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        candidates.append(address.ipv4_mapped)
    return any(candidate in network for candidate in candidates for network in networks)


class ClientAddressAllowed(permissions.BasePermission):
    """Refuses (403 ``ip-not-allowed``) a client's token used from outside its ``allowed_ips``."""

    def has_permission(self, request, view) -> bool:
        application = getattr(getattr(request, "auth", None), "application", None)
        if application is None:
            return True
        networks = application.networks
        if not networks:
            return True
        shown = client_address(request)
        if address_allowed(parse_address(shown), networks):
            return True
        raise Problem(
            403,
            "ip-not-allowed",
            f"This client may not call the API from {shown or 'an unknown address'}.",
            title="Address not allowed",
        )
