"""The audit log: one row per API and OAuth call, refused and failed ones too, without secrets."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.test import Client, override_settings
from django.urls import path
from django.utils import timezone
from rest_framework.test import APIClient

from csintegration.adminsite.totp import totp_device_enroll
from csintegration.api.views import PlatformAPIView
from csintegration.audit.models import ApiCall
from csintegration.audit.services import api_call_prune
from csintegration.audit.tasks import prune_api_calls
from tests.conftest import basic_auth

pytestmark = pytest.mark.django_db
CUSTOMERS = "/api/v1/cs-integration/customers"


def row_text(call: ApiCall) -> str:
    return " ".join(str(getattr(call, field.attname)) for field in ApiCall._meta.concrete_fields)


def test_a_successful_call_is_recorded_with_who_what_and_how_fast(api):
    client = api(scopes="customers:read")
    authorization = client._credentials["HTTP_AUTHORIZATION"]
    response = client.get(f"{CUSTOMERS}?page_size=5", HTTP_X_REQUEST_ID="audit-req-1")
    assert response.status_code == 200

    call = ApiCall.objects.get(request_id="audit-req-1")
    assert call.client_id == client.integration.client.client_id
    assert call.scopes == "customers:read"
    assert (call.method, call.path, call.status) == ("GET", CUSTOMERS, 200)
    assert call.client_address == "127.0.0.1"
    assert 0 < call.latency_ms < 10_000
    assert abs(call.time - timezone.now()) < timedelta(minutes=1)
    text = row_text(call)
    assert authorization.split()[1] not in text and "page_size" not in text


def test_refused_calls_are_recorded_too(api):
    limited = api(scopes="marketing:read", rate_limits={"standard": "1/hour"})
    APIClient().get(CUSTOMERS, HTTP_X_REQUEST_ID="no-token")
    limited.get(CUSTOMERS, HTTP_X_REQUEST_ID="wrong-scope")
    APIClient().get(CUSTOMERS, HTTP_AUTHORIZATION="Bearer forged.token.value", HTTP_X_REQUEST_ID="bad-token")
    api().get(f"{CUSTOMERS}/cust_missing", HTTP_X_REQUEST_ID="not-found")
    quota = api(rate_limits={"standard": "1/hour"})
    quota.get(CUSTOMERS)
    quota.get(CUSTOMERS, HTTP_X_REQUEST_ID="over-quota")
    APIClient().get("/api/v1/no-such-area/", HTTP_X_REQUEST_ID="unknown-url")

    recorded = dict(ApiCall.objects.values_list("request_id", "status"))
    assert recorded["no-token"] == 401
    assert recorded["wrong-scope"] == 403
    assert recorded["bad-token"] == 401
    assert recorded["not-found"] == 404
    assert recorded["over-quota"] == 429
    assert recorded["unknown-url"] == 404
    assert ApiCall.objects.get(request_id="wrong-scope").client_id == limited.integration.client.client_id
    assert ApiCall.objects.get(request_id="no-token").client_id == ""


def test_request_bodies_are_never_recorded(api):
    client = api()
    response = client.post(
        CUSTOMERS,
        {"name": "Secretive Corp", "segment": "enterprise", "arr": 1, "success_manager": "x@example.com"},
        format="json",
        HTTP_X_REQUEST_ID="with-body",
    )
    assert response.status_code == 201
    call = ApiCall.objects.get(request_id="with-body")
    assert call.method == "POST" and call.status == 201
    assert "Secretive" not in row_text(call)


def test_token_requests_are_recorded_without_their_secrets(make_integration_client):
    credentials = make_integration_client()
    client = Client()
    ok = client.post(
        "/o/token/",
        {"grant_type": "client_credentials"},
        HTTP_AUTHORIZATION=basic_auth(credentials),
        HTTP_X_REQUEST_ID="token-ok",
    )
    assert ok.status_code == 200
    refused = client.post(
        "/o/token/",
        {
            "grant_type": "client_credentials",
            "client_id": credentials.client.client_id,
            "client_secret": "wrong",
        },
        HTTP_X_REQUEST_ID="token-refused",
    )
    assert refused.status_code == 401

    granted = ApiCall.objects.get(request_id="token-ok")
    assert (granted.path, granted.status, granted.client_id) == (
        "/o/token/",
        200,
        credentials.client.client_id,
    )
    assert credentials.client_secret not in row_text(granted)
    assert ok.json()["access_token"] not in row_text(granted)
    denied = ApiCall.objects.get(request_id="token-refused")
    assert (denied.status, denied.client_id) == (401, credentials.client.client_id)
    assert "wrong" not in row_text(denied).replace(denied.path, "")


class Exploding(PlatformAPIView):
    scope_area = "customers"

    def get(self, request):
        raise RuntimeError("boom")


urlpatterns = [path("api/explode", Exploding.as_view())]


def test_server_errors_are_recorded(api):
    client = api(scopes="customers:read")
    with override_settings(ROOT_URLCONF=__name__):
        response = client.get("/api/explode", HTTP_X_REQUEST_ID="exploded")
    assert response.status_code == 500
    assert ApiCall.objects.get(request_id="exploded").status == 500


def test_pages_outside_the_api_are_not_recorded():
    Client().get("/admin/login/")
    assert not ApiCall.objects.exists()


def test_prune_removes_rows_past_the_retention(settings):
    settings.AUDIT_RETENTION_DAYS = 30
    now = timezone.now()
    fields = {"method": "GET", "path": "/api/x", "status": 200, "latency_ms": 1.0}
    old = ApiCall.objects.create(time=now - timedelta(days=31), **fields)
    recent = ApiCall.objects.create(time=now - timedelta(days=29), **fields)

    assert prune_api_calls() == 1
    assert list(ApiCall.objects.values_list("pk", flat=True)) == [recent.pk]
    assert not ApiCall.objects.filter(pk=old.pk).exists()
    assert api_call_prune(retention_days=1) == 1


def test_prune_is_scheduled(settings):
    entry = next(e for e in settings.CELERY_BEAT_SCHEDULE.values() if e["task"] == "audit.prune_api_calls")
    assert entry["schedule"]


def test_the_admin_shows_the_log_read_only(api):
    api().get(CUSTOMERS, HTTP_X_REQUEST_ID="visible-in-admin")
    staff = get_user_model().objects.create_superuser("auditor", "auditor@example.com", "pw-Audit-2024")
    device = totp_device_enroll(username="auditor")
    client = Client()
    client.force_login(staff)
    session = client.session
    session["otp_device_id"] = device.persistent_id  # what a verified sign-in leaves in the session
    session.save()

    listing = client.get("/admin/audit/apicall/?outcome=2xx&method__exact=GET")
    assert listing.status_code == 200
    assert CUSTOMERS in listing.content.decode()
    assert client.get("/admin/audit/apicall/add/").status_code == 403
    call = ApiCall.objects.get(request_id="visible-in-admin")
    detail = client.get(f"/admin/audit/apicall/{call.pk}/change/")
    assert detail.status_code == 200 and b'name="_save"' not in detail.content
    assert client.post(f"/admin/audit/apicall/{call.pk}/delete/").status_code == 403


@pytest.mark.django_db(transaction=True)
def test_batched_writes_keep_every_call_of_concurrent_requests(settings, api):
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connection

    from csintegration.audit.writer import writer

    client = api(scopes="customers:read")
    before = ApiCall.objects.count()
    settings.AUDIT_BATCH_WRITES = True
    settings.AUDIT_BATCH_SIZE = 7  # several batches

    def call(index: int) -> str:
        try:
            return client.get(CUSTOMERS, HTTP_X_REQUEST_ID=f"batched-{index}")["X-Request-ID"]
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=5) as pool:
        request_ids = set(pool.map(call, range(40)))
    assert writer.flush(timeout=20)
    rows = ApiCall.objects.filter(request_id__startswith="batched-")
    assert set(rows.values_list("request_id", flat=True)) == request_ids and len(request_ids) == 40
    assert ApiCall.objects.count() == before + 40
    assert set(rows.values_list("status", flat=True)) == {200}
