"""Demo data of the operations domain (filled in below)."""


def seed_demo_operations(**options) -> str:
    return "nothing yet"
