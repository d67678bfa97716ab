"""Public ids: the prefix, then 26 Crockford base-32 digits, 10 of millisecond time and 16 random, so that
ids sort by creation and a column of 64 characters holds any of them."""

import re

from csintegration import ids


def _digits(number: int, length: int) -> str:
    chars = []
    for _ in range(length):
        number, remainder = divmod(number, 32)
        chars.append(ids._ALPHABET[remainder])
    return "".join(reversed(chars))


def test_an_id_is_the_time_then_random_digits(monkeypatch):
    monkeypatch.setattr(ids.time, "time", lambda: 1_764_700_000.123)
    monkeypatch.setattr(ids.secrets, "randbits", lambda bits: (1 << bits) - 12345)
    assert ids.new_id("evt") == f"evt_{_digits(1_764_700_000_123, 10)}{_digits((1 << 80) - 12345, 16)}"


def test_ids_sort_by_creation_and_match_their_pattern(monkeypatch):
    assert len({ids.new_id("cust") for _ in range(1000)}) == 1000
    clock = iter([1_764_700_000.001, 1_764_700_000.002, 1_764_700_001.5])
    monkeypatch.setattr(ids.time, "time", lambda: next(clock))
    made = [ids.new_id("cust") for _ in range(3)]
    assert made == sorted(made)
    assert all(re.fullmatch(ids.id_pattern("cust"), made_id) and len(made_id) == 31 for made_id in made)
