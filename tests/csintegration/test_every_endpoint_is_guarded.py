"""Every API endpoint, found by walking the URL resolver (so endpoints added later are covered too):
it needs a token (health aside), declares a known scope for each method, refuses a token without that
scope, is counted by the rate limiter, and leaves a row in the audit log."""

import re
import uuid
from dataclasses import dataclass

import pytest
from django.conf import settings
from django.test import override_settings
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from rest_framework.test import APIClient

from csintegration.api.permissions import required_scope_for
from csintegration.api.ratelimit import ClientRateThrottle, category_of
from csintegration.api.views import PlatformViewMixin
from csintegration.audit.models import ApiCall
from tests.conftest import fetch_token, sign_request_kwargs

API_PREFIX = "api/v1/"
# Reachable without a token, by design (CONTRACT.md §7). The schema and docs live outside /api/v1/.
PUBLIC_ENDPOINTS = {"cs-integration:health"}
IGNORED_METHODS = {"options", "head", "trace"}
_SAMPLE_VALUES = [
    "cust_guard",
    "camp_guard",
    "feat_guard",
    "evt_guard",
    "ep_guard",
    "msg_guard",
    "run_guard",
    str(uuid.UUID(int=1)),
    "1",
    "guard",
]
_GROUP = re.compile(r"\(\?P<(?P<name>\w+)>(?P<body>(?:[^()]|\((?:[^()]|\([^()]*\))*\))*)\)")


@dataclass(frozen=True)
class Endpoint:
    path: str
    name: str
    callback: object
    methods: tuple[str, ...]

    @property
    def view_class(self):
        return getattr(self.callback, "cls", None) or getattr(self.callback, "view_class", None)

    def view_for(self, method: str):
        """An instance of the view as DRF builds it for ``method`` (viewset action included)."""
        view = self.view_class(**getattr(self.callback, "initkwargs", {}))
        actions = getattr(self.callback, "actions", None)
        if actions:
            view.action_map = actions
            view.action = actions[method]
        return view


def _sample_path(regex: str) -> str:
    def value(match: re.Match) -> str:
        # An id pattern usually starts with its literal prefix ("dlv_", "cust_"), then some characters.
        literal = re.match(r"[A-Za-z0-9_-]*", match["body"]).group(0)
        tails = ("guard", "0a1b2c", "1", "a")
        for candidate in [*_SAMPLE_VALUES, *(literal + tail for tail in tails)]:
            if re.fullmatch(match["body"], candidate):
                return candidate
        raise AssertionError(f"no sample value for <{match['name']}> = {match['body']!r}")

    text = _GROUP.sub(value, regex)
    text = text.replace("/?", "").replace("^", "").replace("\\Z", "").replace("$", "")
    return "/" + re.sub(r"\\(.)", r"\1", text)


def _walk(resolver, prefix: str = "", namespace: str = ""):
    for pattern in resolver.url_patterns:
        regex = prefix + pattern.pattern.regex.pattern.lstrip("^")
        if isinstance(pattern, URLResolver):
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            yield from _walk(pattern, regex, inner)
        elif isinstance(pattern, URLPattern):
            yield regex, f"{namespace}{pattern.name or ''}", pattern.callback


def _methods(callback) -> tuple[str, ...]:
    actions = getattr(callback, "actions", None)
    if actions:
        return tuple(sorted(actions))
    view_class = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
    names = getattr(view_class, "http_method_names", [])
    return tuple(name for name in names if name not in IGNORED_METHODS and hasattr(view_class, name))


def api_endpoints() -> list[Endpoint]:
    endpoints = []
    for regex, name, callback in _walk(get_resolver()):
        if not regex.startswith(API_PREFIX) or "(?P<format>" in regex:
            continue
        path = _sample_path(regex)
        match = resolve(path)
        assert match.func is callback, f"{path} (from {regex!r}) resolves to another view"
        endpoints.append(Endpoint(path=path, name=name, callback=callback, methods=_methods(callback)))
    return endpoints


ENDPOINTS = api_endpoints()
CASES = [
    pytest.param(endpoint, method, id=f"{method.upper()} {endpoint.path}")
    for endpoint in ENDPOINTS
    for method in endpoint.methods
]


def test_the_walk_finds_the_api():
    paths = {endpoint.path for endpoint in ENDPOINTS}
    assert "/api/v1/cs-integration/customers" in paths
    assert "/api/v1/cs-integration/customers/cust_guard" in paths
    assert "/api/v1/cs-integration/health" in paths
    assert len(CASES) >= 8


@pytest.mark.parametrize(("endpoint", "method"), CASES)
def test_the_view_declares_its_scope_and_is_rate_limited(endpoint, method):
    view_class = endpoint.view_class
    assert view_class is not None and issubclass(view_class, PlatformViewMixin), (
        f"{endpoint.path} is served by {endpoint.callback!r}, not a PlatformViewMixin view"
    )
    view = endpoint.view_for(method)
    assert ClientRateThrottle in [type(throttle) for throttle in view.get_throttles()]
    assert category_of(view) in settings.RATE_LIMIT_DEFAULTS
    if endpoint.name in PUBLIC_ENDPOINTS:
        return
    assert not view.public, f"{endpoint.path} is public but not in PUBLIC_ENDPOINTS"
    scope = required_scope_for(view, method.upper())
    assert scope in settings.API_SCOPES, f"{method.upper()} {endpoint.path} declares scope {scope!r}"


@pytest.fixture(scope="module")
def guard_clients(django_db_setup, django_db_blocker):
    """Tokens lacking one scope each, and a client with every scope but no quota (with its token)."""
    from csintegration.clients.models import IntegrationClient
    from csintegration.clients.services import client_create

    # The same fast hasher as the autouse fixture of tests/conftest.py, which module fixtures precede.
    fast_hashing = override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"])
    with django_db_blocker.unblock(), fast_hashing:
        all_scopes = list(settings.API_SCOPES)
        every_scope = client_create(name="guard every scope", scopes=all_scopes)
        no_quota = client_create(
            name="guard without quota",
            scopes=all_scopes,
            rate_limits={category: "0/hour" for category in settings.RATE_LIMIT_DEFAULTS},
        )
        # Fetched here, outside any test's transaction, so the tokens outlive each test's rollback.
        lacking = {
            scope: fetch_token(every_scope, scope=" ".join(s for s in all_scopes if s != scope))[
                "access_token"
            ]
            for scope in all_scopes
        }
        yield lacking, no_quota, fetch_token(no_quota)["access_token"]
        IntegrationClient.objects.filter(name__startswith="guard ").delete()


def _call(client: APIClient, method: str, path: str, request_id: str, **extra):
    body = b"{}" if method in {"post", "put", "patch"} else b""
    kwargs = {"data": body, "content_type": "application/json"} if body else {}
    return getattr(client, method)(path, HTTP_X_REQUEST_ID=request_id, **kwargs, **extra)


@pytest.mark.django_db
@pytest.mark.parametrize(("endpoint", "method"), CASES)
def test_the_endpoint_is_guarded_counted_and_audited(endpoint, method, guard_clients):
    lacking_tokens, no_quota, no_quota_token = guard_clients
    tag = uuid.uuid4().hex[:12]

    anonymous = _call(APIClient(), method, endpoint.path, f"anon-{tag}")
    assert ApiCall.objects.filter(request_id=f"anon-{tag}", status=anonymous.status_code).exists()
    if endpoint.name in PUBLIC_ENDPOINTS:
        return
    assert anonymous.status_code == 401, anonymous.content
    assert anonymous["WWW-Authenticate"].startswith("Bearer")

    view = endpoint.view_for(method)
    scope = required_scope_for(view, method.upper())
    without_scope = APIClient()
    without_scope.credentials(HTTP_AUTHORIZATION=f"Bearer {lacking_tokens[scope]}")
    refused = _call(without_scope, method, endpoint.path, f"scope-{tag}")
    assert refused.status_code == 403, refused.content
    assert scope in refused.json()["detail"]
    assert ApiCall.objects.filter(request_id=f"scope-{tag}", status=403).exists()

    # A token with every scope and a signature, but no quota: the rate limiter must be what refuses.
    throttled_client = APIClient()
    throttled_client.credentials(HTTP_AUTHORIZATION=f"Bearer {no_quota_token}")
    body = b"{}" if method in {"post", "put", "patch"} else b""
    signature = sign_request_kwargs(no_quota, method.upper(), endpoint.path, body)
    throttled = _call(throttled_client, method, endpoint.path, f"quota-{tag}", **signature)
    assert throttled.status_code == 429, throttled.content
    assert throttled.json()["violated-policies"] == [category_of(view)]
    assert throttled["RateLimit-Policy"].startswith(f'"{category_of(view)}";q=0;')
    assert ApiCall.objects.filter(
        request_id=f"quota-{tag}", status=429, client_id=no_quota.client.client_id
    ).exists()
