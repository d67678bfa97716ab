"""Safe outbound HTTP for webhooks: resolve once, refuse internal addresses, connect to the checked one.

A destination is refused when any address its host resolves to is private, loopback, link-local, shared
(100.64/10), reserved, multicast, unspecified or otherwise not globally routable, unless that address lies
inside ``WEBHOOK_ALLOWED_NETWORKS``. The check runs at registration and again on every delivery, on the
address the connection is actually made to: the adapter pins the connection pool to the checked address
(no second DNS lookup) while the ``Host`` header, TLS SNI and certificate checks keep the original name.
Redirects are never followed.

Each attempt has one total deadline (``WEBHOOK_TIMEOUT_SECONDS``) for connecting, sending and the whole
response: every socket operation of the attempt waits at most for what is left of it, so a receiver that
drips a byte at a time cannot hold a worker past the deadline, and an answer that is not complete by then
is a failure, whatever its status.
"""

import ipaddress
import os
import socket
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from .conf import conf

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Ranges that the ipaddress module does not flag in every Python version but that route to internal or
# translated destinations.
EXTRA_BLOCKED_NETWORKS: tuple[IPNetwork, ...] = tuple(
    ipaddress.ip_network(cidr)
    for cidr in (
        "100.64.0.0/10",  # shared address space (carrier-grade NAT)
        "192.0.0.0/24",  # IETF protocol assignments
        "192.88.99.0/24",  # 6to4 relay anycast
        "198.18.0.0/15",  # benchmarking
        "64:ff9b::/96",  # NAT64
        "64:ff9b:1::/48",  # local-use NAT64
        "2002::/16",  # 6to4
        "2001:20::/28",  # ORCHIDv2
        "5f00::/16",  # segment routing
        "3fff::/20",  # documentation
    )
)

RESPONSE_EXCERPT_BYTES = 1024
# The response body is read up to this size so the connection can go back to the pool; beyond it the
# connection is dropped rather than read on.
RESPONSE_DRAIN_BYTES = 64 * 1024


class UnsafeDestination(requests.RequestException):
    """The URL's host resolves to an address that webhooks may not reach."""


# --- The total deadline of an attempt -------------------------------------------------------------------

#: the deadline (time.monotonic()) of the attempt this thread is making, if any
_attempt = threading.local()


class DeadlineExceeded(TimeoutError):
    """The attempt's total deadline passed."""


class DeadlineSocket:
    """A socket (plain or TLS) whose every send and receive waits at most until the deadline of the
    attempt the current thread is making (pooled connections serve many attempts, so the deadline is the
    thread's, not the socket's)."""

    def __init__(self, sock) -> None:
        self._sock = sock

    def _arm(self) -> None:
        deadline = getattr(_attempt, "deadline", None)
        if deadline is None:
            return
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise DeadlineExceeded("the attempt's deadline passed")
        current = self._sock.gettimeout()
        self._sock.settimeout(remaining if current is None else min(current, remaining))

    def recv(self, *args):
        self._arm()
        return self._sock.recv(*args)

    def recv_into(self, *args):
        self._arm()
        return self._sock.recv_into(*args)

    def send(self, *args):
        self._arm()
        return self._sock.send(*args)

    def sendall(self, data, *args) -> None:
        view = memoryview(data).cast("B")
        while view:
            self._arm()
            sent = self._sock.send(view[:65536], *args)
            view = view[sent:]

    def makefile(self, mode="r", buffering=None, **kwargs):
        # http.client reads the status line, headers and body through this file: its reads come back
        # here. The real socket counts the file, as it would its own, so that closing the connection
        # (http.client does once a "Connection: close" response has begun) waits for the file.
        file = socket.socket.makefile(self, mode, buffering, **kwargs)
        self._sock._io_refs += 1
        return file

    # socket.makefile's bookkeeping on the proxy itself; the real socket keeps the count that matters.
    _io_refs = 0
    _closed = False

    def _decref_socketios(self) -> None:
        self._sock._decref_socketios()

    def __getattr__(self, name):
        return getattr(self._sock, name)


class DeadlineHTTPConnection(HTTPConnection):
    def connect(self) -> None:
        super().connect()
        self.sock = DeadlineSocket(self.sock)


class DeadlineHTTPSConnection(HTTPSConnection):
    def connect(self) -> None:
        super().connect()
        self.sock = DeadlineSocket(self.sock)


class DeadlineHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = DeadlineHTTPConnection


class DeadlineHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = DeadlineHTTPSConnection


@lru_cache(maxsize=32)
def _parse_networks(values: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    return tuple(ipaddress.ip_network(value.strip(), strict=False) for value in values if value.strip())


def allowed_networks() -> tuple[IPNetwork, ...]:
    return _parse_networks(tuple(conf.WEBHOOK_ALLOWED_NETWORKS))


def _unmapped(address: IPAddress) -> IPAddress:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def is_explicitly_allowed(address: IPAddress) -> bool:
    address = _unmapped(address)
    return any(address.version == network.version and address in network for network in allowed_networks())


def forbidden_reason(address: IPAddress) -> str | None:
    """Why ``address`` may not be reached, or None if it may."""
    address = _unmapped(address)
    if is_explicitly_allowed(address):
        return None
    checks = (
        ("unspecified", address.is_unspecified),
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("shared (100.64.0.0/10)", address in ipaddress.ip_network("100.64.0.0/10")),
        ("reserved", address.is_reserved),
        ("private", address.is_private),
    )
    for name, matches in checks:
        if matches:
            return name
    if any(address.version == network.version and address in network for network in EXTRA_BLOCKED_NETWORKS):
        return "reserved"
    if not address.is_global:
        return "not globally routable"
    return None


def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address ``host`` resolves to (a literal address resolves to itself)."""
    try:
        return [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise requests.ConnectionError(f"The host {host} could not be resolved.") from exc
    addresses: list[IPAddress] = []
    for family, _type, _proto, _name, sockaddr in infos:
        if family in (socket.AF_INET, socket.AF_INET6):
            address = ipaddress.ip_address(sockaddr[0].split("%", 1)[0])
            if address not in addresses:
                addresses.append(address)
    if not addresses:
        raise requests.ConnectionError(f"The host {host} has no IPv4 or IPv6 address.")
    # One address is pinned (no fallback as in a plain connect), so prefer IPv4: many hosts resolve AAAA
    # records without having an IPv6 route.
    return sorted(addresses, key=lambda address: address.version)


def checked_address(host: str, port: int) -> IPAddress:
    """Resolve ``host`` and return the address to connect to; refuse if any of its addresses is unsafe.

    Every address is checked, not just the first, so that a name with one public and one internal
    record cannot be used to reach the internal one on a later lookup.
    """
    addresses = resolve(host, port)
    for address in addresses:
        reason = forbidden_reason(address)
        if reason is not None:
            shown = host if host.strip("[]") == str(address) else f"{host} ({address})"
            raise UnsafeDestination(
                f"The destination {shown} is a {reason} address; webhooks may only reach public hosts "
                "(or networks listed in WEBHOOK_ALLOWED_NETWORKS)."
            )
    return addresses[0]


def default_port(scheme: str) -> int:
    return 443 if scheme == "https" else 80


def validate_destination(url: str) -> None:
    """Check a URL at registration: absolute http(s), no credentials, https unless the host is admitted by
    ``WEBHOOK_ALLOWED_NETWORKS``, and no unsafe address. Raises ValueError with a message for the caller."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"Not a valid URL: {exc}.") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("The URL must be absolute and start with https://.")
    if parts.username or parts.password:
        raise ValueError("The URL may not contain credentials.")
    if parts.fragment:
        raise ValueError("The URL may not contain a fragment.")
    port = port or default_port(parts.scheme)
    try:
        addresses = resolve(parts.hostname, port)
    except requests.ConnectionError as exc:
        raise ValueError(str(exc)) from exc
    try:
        checked_address(parts.hostname, port)
    except UnsafeDestination as exc:
        raise ValueError(str(exc)) from exc
    if parts.scheme == "http" and not all(is_explicitly_allowed(address) for address in addresses):
        raise ValueError(
            "The URL must use https:// (plain http is admitted only inside WEBHOOK_ALLOWED_NETWORKS)."
        )


class PinnedAddressAdapter(HTTPAdapter):
    """Connects to the checked address of the request's host, keeping the name for Host, SNI and TLS."""

    def __init__(self, *, is_https: bool, **kwargs) -> None:
        super().__init__(**kwargs)
        self._is_https = is_https

    def build_connection_pool_key_attributes(self, request, verify, cert=None):
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(request, verify, cert)
        hostname = host_params["host"]
        port = host_params["port"] or default_port(host_params["scheme"])
        address = checked_address(hostname, port)

        request.headers = CaseInsensitiveDict(request.headers or {})
        host_header = f"[{hostname}]" if ":" in hostname else hostname
        if host_params["port"] is not None and host_params["port"] != default_port(host_params["scheme"]):
            host_header += f":{host_params['port']}"
        request.headers["Host"] = host_header
        if self._is_https:
            pool_kwargs["assert_hostname"] = hostname
            pool_kwargs["server_hostname"] = hostname
        host_params["host"] = f"[{address}]" if address.version == 6 else str(address)
        return host_params, pool_kwargs

    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": DeadlineHTTPConnectionPool,
            "https": DeadlineHTTPSConnectionPool,
        }

    def get_connection(self, url, proxies=None):  # the pre-2.32 path would bypass the address check
        raise NotImplementedError("Use get_connection_with_tls_context.")


#: the name of the threads that send attempts (and record the slow ones)
SENDER_THREAD_PREFIX = "webhook-send"

_session_lock = threading.Lock()
_session: tuple[int, requests.Session] | None = None
_senders: tuple[int, ThreadPoolExecutor] | None = None


def session() -> requests.Session:
    """The pooled session of this process (re-created after a fork, so pools are never shared)."""
    global _session
    pid = os.getpid()
    if _session is None or _session[0] != pid:
        with _session_lock:
            if _session is None or _session[0] != pid:
                new = requests.Session()
                new.trust_env = False  # proxies from the environment would bypass the address check
                pool_size = conf.WEBHOOK_POOL_SIZE
                new.mount("http://", PinnedAddressAdapter(is_https=False, pool_maxsize=pool_size))
                new.mount("https://", PinnedAddressAdapter(is_https=True, pool_maxsize=pool_size))
                new.headers["User-Agent"] = conf.WEBHOOK_USER_AGENT
                _session = (pid, new)
    return _session[1]


#: the response header by which a receiver asks that a message not be retried (as Svix receivers do)
ABORT_HEADER = "webhook-delivery"
ABORT_VALUE = "abort-message"


@dataclass(frozen=True)
class PostResult:
    status_code: int | None
    duration_ms: int
    response_excerpt: str = ""
    error: str = ""
    retry_after: str | None = None
    #: the receiver answered ``webhook-delivery: abort-message``: no more tries
    abort: bool = False

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300 and not self.error


def _read_body(response: requests.Response) -> str:
    """The first KB of the body, read to its end (at most RESPONSE_DRAIN_BYTES, beyond which the
    connection is dropped rather than read on) so the connection can go back to the pool."""
    received = bytearray()
    for chunk in response.iter_content(chunk_size=8192):
        received.extend(chunk)
        if len(received) >= RESPONSE_DRAIN_BYTES:
            break
    return bytes(received[:RESPONSE_EXCERPT_BYTES]).decode("utf-8", errors="replace")


def _timed_out(exc: BaseException) -> bool:
    while exc is not None:
        if isinstance(exc, TimeoutError | requests.Timeout):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def post(url: str, *, body: bytes, headers: dict[str, str], timeout: float) -> PostResult:
    """POST ``body`` to ``url`` safely within ``timeout`` seconds in all (connect, send and the whole
    response); never raises for network trouble, returns what happened."""
    started = time.monotonic()
    _attempt.deadline = started + timeout

    def elapsed() -> int:
        return int((time.monotonic() - started) * 1000)

    def late(started_answering: bool) -> str:
        if started_answering:
            return f"No complete response within {timeout:g} s."
        return f"No response within {timeout:g} s."

    try:
        try:
            response = session().post(
                url, data=body, headers=headers, timeout=timeout, allow_redirects=False, stream=True
            )
        except UnsafeDestination as exc:
            return PostResult(None, elapsed(), error=f"Refused: {exc}")
        except requests.RequestException as exc:
            if _timed_out(exc):
                return PostResult(None, elapsed(), error=late(False))
            kind = "Connection failed" if isinstance(exc, requests.ConnectionError) else "Request failed"
            return PostResult(None, elapsed(), error=f"{kind}: {_short(exc)}")
        error = ""
        try:
            excerpt = _read_body(response)
        except (requests.RequestException, OSError) as exc:
            excerpt = ""
            error = late(True) if _timed_out(exc) else f"The response body was unreadable: {_short(exc)}"
        finally:
            response.close()
    finally:
        _attempt.deadline = None
    if not error and (response.is_redirect or 300 <= response.status_code < 400):
        location = response.headers.get("Location", "")
        error = f"Redirects are not followed (to {location[:200]})." if location else "Redirect not followed."
    abort = response.headers.get(ABORT_HEADER, "").strip().lower() == ABORT_VALUE
    return PostResult(
        response.status_code,
        elapsed(),
        response_excerpt=excerpt,
        error=error,
        retry_after=response.headers.get("Retry-After"),
        abort=abort and not (200 <= response.status_code < 300),
    )


def _short(exc: Exception) -> str:
    text = str(exc) or exc.__class__.__name__
    return text[:500]


@dataclass(frozen=True)
class Outgoing:
    url: str
    body: bytes
    headers: dict[str, str]


def _sender_pool() -> ThreadPoolExecutor:
    """Threads of this process that send a batch in parallel (re-created after a fork)."""
    global _senders
    pid = os.getpid()
    if _senders is None or _senders[0] != pid:
        with _session_lock:
            if _senders is None or _senders[0] != pid:
                _senders = (
                    pid,
                    ThreadPoolExecutor(
                        max_workers=conf.WEBHOOK_SENDER_THREADS, thread_name_prefix=SENDER_THREAD_PREFIX
                    ),
                )
    return _senders[1]


def submit(item: Outgoing, *, timeout: float) -> Future[PostResult]:
    """Send one request on a sender thread of this process; its result when it is done."""
    return _sender_pool().submit(post, item.url, body=item.body, headers=item.headers, timeout=timeout)
