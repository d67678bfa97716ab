"""The key ring of encrypted fields: ``FIELD_ENCRYPTION_KEYS`` is a list of ``"kid:base64key"``.

The first key encrypts every new value; every key decrypts, so a rotation adds a new key in front,
re-encrypts (``manage.py rotate_encryption_keys``), and only then drops the old one.
"""

import base64
import binascii
import functools
import os
import re
from dataclasses import dataclass

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

PREFIX = "enc"
VERSION = "v1"
NONCE_BYTES = 12
KEY_BYTES = 32
_KID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


class DecryptionError(Exception):
    """A stored value that cannot be decrypted with the configured keys."""


@dataclass(frozen=True)
class KeyRing:
    current_kid: str
    ciphers: dict[str, AESGCM]

    def cipher(self, kid: str) -> AESGCM:
        try:
            return self.ciphers[kid]
        except KeyError:
            raise DecryptionError(
                f"The value was encrypted with key id {kid!r}, which is not in FIELD_ENCRYPTION_KEYS."
            ) from None


def generate_key_entry(kid: str = "k1") -> str:
    """A fresh ``kid:base64key`` entry for FIELD_ENCRYPTION_KEYS."""
    return f"{kid}:{base64.b64encode(os.urandom(KEY_BYTES)).decode()}"


def parse_key_entries(entries: tuple[str, ...] | list[str]) -> KeyRing:
    if not entries:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS is empty: at least one 'kid:base64key' is needed.")
    ciphers: dict[str, AESGCM] = {}
    for position, entry in enumerate(entries):
        kid, separator, encoded = str(entry).strip().partition(":")
        if not separator or not _KID_PATTERN.match(kid):
            raise ImproperlyConfigured(
                f"FIELD_ENCRYPTION_KEYS entry {position + 1} is not 'kid:base64key' "
                "(kid: 1-32 letters, digits, '_' or '-')."
            )
        try:
            key = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise ImproperlyConfigured(f"FIELD_ENCRYPTION_KEYS key {kid!r} is not valid base64.") from None
        if len(key) != KEY_BYTES:
            raise ImproperlyConfigured(
                f"FIELD_ENCRYPTION_KEYS key {kid!r} is {len(key)} bytes; AES-256 needs {KEY_BYTES}."
            )
        if kid in ciphers:
            raise ImproperlyConfigured(f"FIELD_ENCRYPTION_KEYS names key id {kid!r} twice.")
        ciphers[kid] = AESGCM(key)
    first_kid = str(entries[0]).strip().partition(":")[0]
    return KeyRing(current_kid=first_kid, ciphers=ciphers)


@functools.lru_cache(maxsize=8)
def _cached_ring(entries: tuple[str, ...]) -> KeyRing:
    return parse_key_entries(entries)


def key_ring() -> KeyRing:
    """The ring for the current settings (cached per value, so overridden settings take effect)."""
    return _cached_ring(tuple(settings.FIELD_ENCRYPTION_KEYS))


def _header(kid: str) -> str:
    return f"{PREFIX}:{VERSION}:{kid}:"


def is_encrypted(value: str) -> bool:
    return isinstance(value, str) and value.startswith(f"{PREFIX}:{VERSION}:")


def key_id_of(value: str) -> str | None:
    if not is_encrypted(value):
        return None
    return value.split(":", 3)[2]


def encrypt(plaintext: str) -> str:
    """``enc:v1:<kid>:<base64(nonce ‖ ciphertext ‖ tag)>`` under the current key, with a fresh nonce."""
    ring = key_ring()
    header = _header(ring.current_kid)
    nonce = os.urandom(NONCE_BYTES)
    # The header is authenticated too, so a value cannot be relabelled with another key id.
    sealed = ring.ciphers[ring.current_kid].encrypt(nonce, plaintext.encode(), header.encode())
    return header + base64.b64encode(nonce + sealed).decode()


def decrypt(stored: str) -> str:
    if not is_encrypted(stored):
        raise DecryptionError("The value carries no 'enc:v1:' header.")
    try:
        _, _, kid, encoded = stored.split(":", 3)
        blob = base64.b64decode(encoded, validate=True)
    except (ValueError, binascii.Error):
        raise DecryptionError("The encrypted value is malformed.") from None
    if len(blob) < NONCE_BYTES + 16:
        raise DecryptionError("The encrypted value is truncated.")
    cipher = key_ring().cipher(kid)
    try:
        plaintext = cipher.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], _header(kid).encode())
    except Exception:  # cryptography raises InvalidTag for a wrong key or a tampered value
        raise DecryptionError(f"The value does not authenticate under key {kid!r}.") from None
    return plaintext.decode()
