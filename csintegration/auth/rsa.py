"""RSA key generation for access-token signing (no Django imports: settings use it on first run)."""

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

RSA_KEY_BITS = 2048


def new_rsa_private_key_pem(bits: int = RSA_KEY_BITS) -> str:
    """A fresh unencrypted PKCS#8 PEM private key, the form ``JWT_PRIVATE_KEY`` expects."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    return key.private_bytes(
        encoding=serialization.Encoding.PEM,
        format=serialization.PrivateFormat.PKCS8,
        encryption_algorithm=serialization.NoEncryption(),
    ).decode()
