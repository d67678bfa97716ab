"""Prefixed, time-ordered public identifiers such as ``cust_01jd3k…``."""

import secrets
import time

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford base32, lower case


def _base32(number: int, length: int) -> str:
    chars = []
    for _ in range(length):
        number, remainder = divmod(number, 32)
        chars.append(_ALPHABET[remainder])
    return "".join(reversed(chars))


def new_id(prefix: str) -> str:
    """A ULID-like id: 10 chars of millisecond time then 16 random chars, so ids sort by creation."""
    millis = int(time.time() * 1000)
    return f"{prefix}_{_base32(millis, 10)}{_base32(secrets.randbits(80), 16)}"


#: what follows the prefix and its underscore: letters, digits, '_' or '-'
ID_BODY = r"[A-Za-z0-9_-]"
#: the longest id a column holds (CharField(max_length=64) throughout)
ID_MAX_LENGTH = 64


def id_pattern(prefix: str) -> str:
    """The regular expression (unanchored) of an id with ``prefix``: ``cust_[A-Za-z0-9_-]{1,59}``."""
    return f"{prefix}_{ID_BODY}{{1,{ID_MAX_LENGTH - len(prefix) - 1}}}"


def id_path_parameter(name: str, prefix: str) -> str:
    """A named URL group for an id: ``(?P<customer_id>cust_[A-Za-z0-9_-]{1,59})``."""
    return f"(?P<{name}>{id_pattern(prefix)})"
