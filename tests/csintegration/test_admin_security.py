"""The admin: password plus a TOTP second factor, lockout after repeated failures, and the deployment
settings that ``check --deploy`` demands in production."""

import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice

from csintegration.adminsite.totp import totp_current_code, totp_device_enroll
from csintegration.auth.rsa import new_rsa_private_key_pem
from csintegration.encryption.keys import generate_key_entry
from domains.customers.models import Customer

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct-Horse-battery-9"
CUSTOMER_LIST = "/admin/customers/customer/"
# Deploy checks known to be open, each with its reason; anything else reported fails the test.
DEPLOY_CHECKS_STILL_OPEN: dict[str, str] = {}


@pytest.fixture
def staff(db):
    user = get_user_model().objects.create_superuser("operator", "operator@example.com", PASSWORD)
    Customer.objects.create(
        customer_id="cust_admin_visible",
        name="Visible Only After 2FA",
        segment="enterprise",
        arr=1000,
        success_manager="csm@example.com",
    )
    return user


def sign_in(client: Client, username: str, password: str, otp_token: str = ""):
    return client.post(
        f"/admin/login/?next={CUSTOMER_LIST}",
        {"username": username, "password": password, "otp_token": otp_token, "next": CUSTOMER_LIST},
    )


def test_a_password_alone_shows_no_data(staff):
    totp_device_enroll(username="operator")
    client = Client()
    response = sign_in(client, "operator", PASSWORD)
    assert response.status_code == 200  # the form again, asking for the code
    assert client.get(CUSTOMER_LIST).status_code == 302

    # Even a session authenticated by password (but not by a device) is refused.
    client.force_login(staff)
    refused = client.get(CUSTOMER_LIST)
    assert refused.status_code == 302 and refused["Location"].startswith("/admin/login/")
    assert b"Visible Only After 2FA" not in client.get("/admin/", follow=True).content


def test_password_and_a_valid_totp_code_open_the_admin(staff):
    totp_device_enroll(username="operator")
    client = Client()
    response = sign_in(client, "operator", PASSWORD, totp_current_code(username="operator"))
    assert response.status_code == 302 and response["Location"] == CUSTOMER_LIST
    listing = client.get(CUSTOMER_LIST)
    assert listing.status_code == 200
    assert b"Visible Only After 2FA" in listing.content


def test_a_wrong_code_or_no_device_is_refused(staff):
    client = Client()
    assert sign_in(client, "operator", PASSWORD, "123456").status_code == 200  # no device at all
    device = totp_device_enroll(username="operator")
    right = totp_current_code(username="operator")
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    assert sign_in(client, "operator", PASSWORD, wrong).status_code == 200
    assert client.get(CUSTOMER_LIST).status_code == 302
    assert device.user == staff


def test_lockout_after_repeated_failures(staff, settings):
    totp_device_enroll(username="operator")
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert sign_in(client, "operator", "wrong password").status_code == 200
    locked = sign_in(client, "operator", "wrong password")
    assert locked.status_code == 429
    assert b"Sign-in temporarily locked" in locked.content and b"Traceback" not in locked.content

    # Now even the right password and code are refused, from this address and for this account.
    code = totp_current_code(username="operator")
    assert sign_in(client, "operator", PASSWORD, code).status_code == 429
    assert (
        Client(REMOTE_ADDR="10.9.8.7")
        .post("/admin/login/", {"username": "operator", "password": PASSWORD, "otp_token": code})
        .status_code
        == 429
    )
    assert client.get(CUSTOMER_LIST).status_code == 302


def test_enroll_totp_prints_a_provisioning_uri_and_resets_the_device(staff):
    output = io.StringIO()
    call_command("enroll_totp", "operator", stdout=output)
    uri = re.search(r"otpauth://totp/\S+", output.getvalue()).group(0)
    assert "secret=" in uri and "issuer=CS%20Integration%20Hub" in uri
    first = TOTPDevice.objects.get(user=staff)
    assert first.confirmed

    call_command(
        "enroll_totp", "operator", "--key", "JBSWY3DPEHPK3PXPJBSWY3DP", "--no-qr", stdout=io.StringIO()
    )
    device = TOTPDevice.objects.get(user=staff)
    assert device.pk != first.pk
    assert "secret=JBSWY3DPEHPK3PXPJBSWY3DP" in device.config_url

    code_output = io.StringIO()
    call_command("totp_code", "operator", stdout=code_output)
    assert device.verify_token(code_output.getvalue().strip())


def test_check_deploy_passes_in_production(tmp_path):
    environment = {
        key: value for key, value in os.environ.items() if not key.startswith(("SECURE_", "DEBUG"))
    }
    environment.update(
        ENVIRONMENT="production",
        SECRET_KEY="k9$Xq2!vLr7#Tz4@Wm8^Pn1&Bc6*Hd3%Jf5(Gs0)Ya-Ue+Io=Ok~Ri?Sl>Nm<Qp",
        FIELD_ENCRYPTION_KEYS=generate_key_entry("prod1"),
        JWT_PRIVATE_KEY=new_rsa_private_key_pem(),
        ALLOWED_HOSTS="api.example.com",
        VAR_DIR=str(tmp_path),
        DJANGO_SETTINGS_MODULE="csintegration.settings",
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    reported = set(re.findall(r"\(([\w.]+\.[WE]\d+)\)", result.stdout + result.stderr))
    assert reported <= set(DEPLOY_CHECKS_STILL_OPEN), result.stdout + result.stderr
    assert result.returncode == (1 if reported else 0), result.stdout + result.stderr
    # Nothing was generated into var/: every secret came from the environment.
    assert not {"secret_key", "field_encryption_keys", "jwt_private_key"} & {
        p.name for p in tmp_path.iterdir()
    }
