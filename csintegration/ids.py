"""Prefixed, time-ordered public identifiers such as ``cust_01jd3k…``."""

import secrets
import time

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford base32, lower case


#: every pair of base-32 digits, by the 10 bits they spell
_PAIRS = [first + second for first in _ALPHABET for second in _ALPHABET]
_SHIFTS = tuple(range(120, -1, -10))


def new_id(prefix: str) -> str:
    """A ULID-like id: 10 chars of millisecond time then 16 random chars, so ids sort by creation."""
    number = (int(time.time() * 1000) % 32**10) << 80 | secrets.randbits(80)
    # The 130 bits as 26 base-32 digits, most significant first, spelt two at a time.
    return f"{prefix}_{''.join([_PAIRS[(number >> shift) & 1023] for shift in _SHIFTS])}"


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
