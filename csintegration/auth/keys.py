"""The RSA keys that sign access tokens: the active one signs, inactive ones still verify during rotation.

The keys are DOT's ``OIDC_RSA_PRIVATE_KEY`` and ``OIDC_RSA_PRIVATE_KEYS_INACTIVE``, so the JWKS document that
DOT serves at ``/o/.well-known/jwks.json`` lists exactly the keys accepted here, with the same ``kid``.
"""

from dataclasses import dataclass
from functools import lru_cache

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from oauth2_provider.settings import oauth2_settings
from oauth2_provider.utils import jwk_from_pem


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private_key: rsa.RSAPrivateKey
    public_key: rsa.RSAPublicKey


@lru_cache(maxsize=16)
def _load(pem: str) -> SigningKey:
    private_key = serialization.load_pem_private_key(pem.encode(), password=None)
    if not isinstance(private_key, rsa.RSAPrivateKey):
        raise ValueError("The access-token signing key must be an RSA private key.")
    # The kid is the RFC 7638 thumbprint, computed the way DOT's JWKS view computes it.
    return SigningKey(
        kid=jwk_from_pem(pem).thumbprint(), private_key=private_key, public_key=private_key.public_key()
    )


def active_key() -> SigningKey:
    return _load(oauth2_settings.OIDC_RSA_PRIVATE_KEY)


def verification_keys() -> dict[str, SigningKey]:
    """Every key whose tokens are accepted, by kid: the active key first, then the inactive ones."""
    pems = [oauth2_settings.OIDC_RSA_PRIVATE_KEY, *oauth2_settings.OIDC_RSA_PRIVATE_KEYS_INACTIVE]
    keys: dict[str, SigningKey] = {}
    for pem in pems:
        if pem:
            key = _load(pem)
            keys.setdefault(key.kid, key)
    return keys
