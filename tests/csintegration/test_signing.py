"""RFC 9421 request signatures on high-value operations: what passes, and each refusal the contract names."""

import json
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import requests
from django.conf import settings
from http_message_signatures import HTTPMessageSigner, MappingKeyResolver, algorithms

from csintegration.auth.models import SeenSignature
from domains.customers.models import Customer
from tests.conftest import sign_request_kwargs

CUSTOMERS = "/api/v1/cs-integration/customers"
BULK = f"{CUSTOMERS}/bulk"

pytestmark = pytest.mark.django_db


def bulk_body(name: str = "Signed Co") -> bytes:
    return json.dumps({"customers": [{"name": name, "health_score": 70}]}).encode()


def post_bulk(client, body: bytes, headers: dict):
    return client.post(BULK, data=body, content_type="application/json", **headers)


def assert_problem(response, status: int, slug: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["type"].endswith(f"/{slug}"), body
    return body


def signed_with(credentials, method, path, body, *, covered, include_alg=True, secret=None):
    """Signature headers made directly with the library, for signatures the helper would never make."""
    prepared = requests.Request(method, f"http://testserver{path}", data=body).prepare()
    key = (secret or credentials.signing_secret).encode()
    signer = HTTPMessageSigner(
        signature_algorithm=algorithms.HMAC_SHA256,
        key_resolver=MappingKeyResolver(public_keys={}, private_keys={credentials.client.client_id: key}),
    )
    signer.sign(
        prepared,
        key_id=credentials.client.client_id,
        covered_component_ids=covered,
        include_alg=include_alg,
        body=body,
    )
    names = ("Content-Digest", "Signature-Input", "Signature")
    return {f"HTTP_{name.upper().replace('-', '_')}": prepared.headers[name] for name in names}


def test_signed_bulk_passes_and_its_signature_is_recorded(api):
    client = api()
    body = bulk_body()
    response = post_bulk(client, body, sign_request_kwargs(client.integration, "POST", BULK, body))
    assert response.status_code == 200, response.content
    assert Customer.objects.filter(name="Signed Co").count() == 1
    seen = SeenSignature.objects.get()
    assert seen.client_id == client.integration.client.client_id
    assert (seen.method, seen.path) == ("POST", BULK)


def test_missing_signature_is_401_signature_required(api):
    client = api()
    body = bulk_body()
    assert_problem(post_bulk(client, body, {}), 401, "signature-required")
    headers = sign_request_kwargs(client.integration, "POST", BULK, body)
    del headers["HTTP_SIGNATURE_INPUT"]
    assert_problem(post_bulk(client, body, headers), 401, "signature-required")
    assert not Customer.objects.exists()


def test_stale_and_future_signatures_are_refused(api):
    client = api()
    body = bulk_body()
    window = settings.SIGNATURE_MAX_AGE_SECONDS
    for offset in (-window - 10, window + 10):
        created = datetime.now() + timedelta(seconds=offset)
        headers = sign_request_kwargs(client.integration, "POST", BULK, body, created=created)
        assert_problem(post_bulk(client, body, headers), 401, "signature-invalid")
    assert not Customer.objects.exists()
    # Within the window (some clock skew either way) is fine.
    for offset in (-window + 30, 30):
        created = datetime.now() + timedelta(seconds=offset)
        headers = sign_request_kwargs(client.integration, "POST", BULK, body, created=created)
        assert post_bulk(client, body, headers).status_code == 200


def test_a_body_that_does_not_match_its_digest_is_400(api):
    client = api()
    headers = sign_request_kwargs(client.integration, "POST", BULK, bulk_body("Original"))
    body = assert_problem(post_bulk(client, bulk_body("Tampered"), headers), 400, "content-digest-mismatch")
    assert "Content-Digest" in body["detail"]
    assert not Customer.objects.exists()

    headers["HTTP_CONTENT_DIGEST"] = "sha-256=not-a-byte-sequence"
    assert_problem(post_bulk(client, bulk_body("Original"), headers), 400, "content-digest-invalid")


def test_a_tampered_body_with_a_recomputed_digest_is_401(api):
    client = api()
    original, tampered = bulk_body("Original"), bulk_body("Tampered")
    headers = sign_request_kwargs(client.integration, "POST", BULK, original)
    headers["HTTP_CONTENT_DIGEST"] = sign_request_kwargs(client.integration, "POST", BULK, tampered)[
        "HTTP_CONTENT_DIGEST"
    ]
    assert_problem(post_bulk(client, tampered, headers), 401, "signature-invalid")
    assert not Customer.objects.exists()


def test_wrong_key_or_another_clients_keyid_is_401(api, make_integration_client):
    client = api()
    body = bulk_body()
    wrong_secret = signed_with(
        client.integration, "POST", BULK, body, covered=("@method", "@path"), secret="not-the-secret"
    )
    assert_problem(post_bulk(client, body, wrong_secret), 401, "signature-invalid")

    other = make_integration_client(name="other client")
    theirs = sign_request_kwargs(other, "POST", BULK, body)  # valid for them, not for this token
    detail = assert_problem(post_bulk(client, body, theirs), 401, "signature-invalid")["detail"]
    assert "key" in detail
    assert not Customer.objects.exists()


def test_a_signature_must_cover_method_path_and_digest_and_name_its_algorithm(api):
    client = api()
    body = bulk_body()
    without_path = signed_with(client.integration, "POST", BULK, body, covered=("@method",))
    assert (
        "@path" in assert_problem(post_bulk(client, body, without_path), 401, "signature-invalid")["detail"]
    )
    without_alg = signed_with(
        client.integration, "POST", BULK, body, covered=("@method", "@path"), include_alg=False
    )
    assert "alg" in assert_problem(post_bulk(client, body, without_alg), 401, "signature-invalid")["detail"]
    complete = signed_with(client.integration, "POST", BULK, body, covered=("@method", "@path"))
    assert post_bulk(client, body, complete).status_code == 200


def test_a_replayed_signature_is_refused_whatever_its_label(api):
    client = api()
    body = bulk_body()
    headers = sign_request_kwargs(client.integration, "POST", BULK, body)
    assert post_bulk(client, body, headers).status_code == 200
    detail = assert_problem(post_bulk(client, body, headers), 401, "signature-invalid")["detail"]
    assert "already used" in detail

    relabelled = dict(headers)
    for name in ("HTTP_SIGNATURE_INPUT", "HTTP_SIGNATURE"):
        relabelled[name] = re.sub(r"^sig1=", "again=", headers[name])
    assert_problem(post_bulk(client, body, relabelled), 401, "signature-invalid")
    assert Customer.objects.count() == 1


def test_a_delete_signature_is_bound_to_its_path_and_method(api):
    client = api()
    for customer_id in ("cust_keep", "cust_drop"):
        client.post(CUSTOMERS, {"customer_id": customer_id, "name": customer_id}, format="json")
    for_drop = sign_request_kwargs(client.integration, "DELETE", f"{CUSTOMERS}/cust_drop")
    assert_problem(client.delete(f"{CUSTOMERS}/cust_keep", **for_drop), 401, "signature-invalid")
    as_post = sign_request_kwargs(client.integration, "POST", f"{CUSTOMERS}/cust_drop")
    assert_problem(client.delete(f"{CUSTOMERS}/cust_drop", **as_post), 401, "signature-invalid")
    assert client.delete(f"{CUSTOMERS}/cust_drop", **for_drop).status_code == 204
    assert list(Customer.objects.values_list("customer_id", flat=True)) == ["cust_keep"]


def test_other_operations_need_no_signature(api):
    client = api()
    assert client.post(CUSTOMERS, {"name": "Plain"}, format="json").status_code == 201
    assert client.get(CUSTOMERS).status_code == 200
    assert not SeenSignature.objects.exists()


def test_scope_is_checked_before_the_signature(api):
    reader = api(scopes="customers:read")
    body = bulk_body()
    response = post_bulk(reader, body, sign_request_kwargs(reader.integration, "POST", BULK, body))
    assert response.status_code == 403
    assert not SeenSignature.objects.exists()  # a refused request does not spend its signature


def test_the_schema_says_which_operations_are_signed(api):
    schema = api().get("/api/schema/", {"format": "json"}).json()
    detail = schema["paths"][f"{CUSTOMERS}/{{customer_id}}"]
    assert "HTTP Message Signature" in detail["delete"]["description"]
    assert "HTTP Message Signature" not in detail["get"]["description"]
    assert "HTTP Message Signature" in schema["paths"][BULK]["post"]["description"]
    assert schema["components"]["securitySchemes"]["oauth2"]["type"] == "oauth2"
    assert detail["delete"]["security"] == [{"oauth2": ["customers:write"]}]


def live_token(base_url: str, credentials) -> str:
    response = requests.post(
        f"{base_url}/o/token/",
        data={"grant_type": "client_credentials"},
        auth=(credentials.client.client_id, credentials.client_secret),
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def test_the_example_client_signs_real_http_requests(live_server, make_integration_client):
    """examples/signed_request.py, run as the README shows, against a real server over HTTP."""
    credentials = make_integration_client()
    Customer.objects.create(customer_id="cust_todelete", name="Doomed")
    environment = {
        **os.environ,
        "CLIENT_ID": credentials.client.client_id,
        "CLIENT_SECRET": credentials.client_secret,
        "SIGNING_SECRET": credentials.signing_secret,
    }
    script = Path(settings.BASE_DIR) / "examples" / "signed_request.py"
    body = json.dumps({"customers": [{"customer_id": "cust_overhttp", "name": "Over HTTP"}]})
    bulk = subprocess.run(
        [sys.executable, str(script), "POST", f"{live_server.url}{BULK}", body],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bulk.returncode == 0 and bulk.stdout.startswith("200"), bulk.stdout + bulk.stderr
    assert Customer.objects.filter(pk="cust_overhttp").exists()
    deleted = subprocess.run(
        [
            sys.executable,
            str(script),
            "DELETE",
            f"{live_server.url}/api/v1/cs-integration/customers/cust_todelete",
        ],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert deleted.returncode == 0 and deleted.stdout.startswith("204"), deleted.stdout + deleted.stderr
    assert not Customer.objects.filter(pk="cust_todelete").exists()


def test_concurrent_replays_are_accepted_once(live_server, api):
    client = api()
    client.post(CUSTOMERS, {"customer_id": "cust_raced", "name": "Raced"}, format="json")
    token = live_token(live_server.url, client.integration)
    path = f"{CUSTOMERS}/cust_raced"
    headers = {
        name.removeprefix("HTTP_").replace("_", "-").title(): value
        for name, value in sign_request_kwargs(client.integration, "DELETE", path).items()
    }
    headers["Authorization"] = f"Bearer {token}"

    def send(_):
        return requests.delete(f"{live_server.url}{path}", headers=headers, timeout=30)

    with ThreadPoolExecutor(max_workers=6) as pool:
        responses = list(pool.map(send, range(6)))
    assert sorted(response.status_code for response in responses) == [204] + [401] * 5
    refused = [response.json() for response in responses if response.status_code == 401]
    assert all(body["type"].endswith("/signature-invalid") for body in refused)
    assert not Customer.objects.filter(pk="cust_raced").exists()
    assert SeenSignature.objects.count() == 1
