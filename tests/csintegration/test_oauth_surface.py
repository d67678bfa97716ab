"""The OAuth surface is exactly CONTRACT.md §2: the rest of /o/ does not exist, and errors are JSON."""

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "path",
    [
        "/o/userinfo/",
        "/o/applications/",
        "/o/applications/register/",
        "/o/authorized_tokens/",
        "/o/device-authorization/",
        "/o/device/",
        "/o/.well-known/openid-configuration",
        "/o/.well-known/oauth-authorization-server",
        "/o/logout/",
        "/o/register/",
        "/o/anything",
    ],
)
def test_what_the_contract_does_not_name_is_a_problem_404(path):
    for response in (Client().get(path), Client().post(path)):
        assert response.status_code == 404, (path, response.status_code)
        assert response["Content-Type"] == "application/problem+json"


def test_the_named_endpoints_answer(make_integration_client):
    assert Client().get("/o/.well-known/jwks.json").json()["keys"]
    for path in ("/o/token/", "/o/revoke_token/", "/o/introspect/"):
        response = Client().post(path, {})
        assert response.status_code in (400, 401), (path, response.content)
        assert response["Content-Type"].startswith("application/json")


@pytest.mark.parametrize("path", ["/o/token/", "/o/revoke_token/", "/o/introspect/"])
def test_a_wrong_method_is_a_problem_405(path):
    response = Client().get(path)
    assert response.status_code == 405
    assert response["Content-Type"] == "application/problem+json"
    assert "POST" in response["Allow"] and response.json()["status"] == 405
    assert response["X-Request-ID"]


def test_authorize_sends_the_user_to_the_admin_sign_in_with_its_second_factor(django_user_model):
    response = Client().get("/o/authorize/", {"response_type": "code", "client_id": "x"})
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/?next=/o/authorize/")

    # A session without the second factor is sent there too.
    user = django_user_model.objects.create_user("no.otp", password="pw-123456789", is_staff=True)
    browser = Client()
    browser.force_login(user)
    response = browser.get("/o/authorize/", {"response_type": "code", "client_id": "x"})
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")
    assert Client().get(response["Location"]).status_code == 200  # the page exists
