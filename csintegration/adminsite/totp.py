"""TOTP devices of staff users: enrolment (confirmed device, provisioning URI) and current codes."""

import base64
import binascii
import time

from django.contrib.auth import get_user_model
from django.db import transaction
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

DEVICE_NAME = "authenticator"


def _user(username: str):
    User = get_user_model()
    try:
        return User._default_manager.get_by_natural_key(username)
    except User.DoesNotExist:
        raise ValueError(f"No user named {username!r}.") from None


def base32_to_hex(secret_base32: str) -> str:
    text = secret_base32.strip().replace(" ", "").upper()
    padded = text + "=" * (-len(text) % 8)
    try:
        key = base64.b32decode(padded)
    except (binascii.Error, ValueError):
        raise ValueError("The TOTP key is not valid base32.") from None
    if len(key) < 10:
        raise ValueError("The TOTP key must be at least 80 bits (16 base32 characters).")
    return key.hex()


@transaction.atomic
def totp_device_enroll(*, username: str, key_base32: str | None = None) -> TOTPDevice:
    """Replace the user's TOTP devices by one confirmed device (with ``key_base32``, or a random key)."""
    user = _user(username)
    TOTPDevice.objects.filter(user=user).delete()
    device = TOTPDevice(user=user, name=DEVICE_NAME, confirmed=True)
    if key_base32:
        device.key = base32_to_hex(key_base32)
    device.save()
    return device


def totp_current_code(*, username: str) -> str:
    device = TOTPDevice.objects.filter(user=_user(username), confirmed=True).first()
    if device is None:
        raise ValueError(f"{username!r} has no confirmed TOTP device; run enroll_totp first.")
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time()
    return f"{totp.token():0{device.digits}d}"
